"""Backfills: stream a window of history through a flow without touching its own cursors.

A backfill runs under a flow name of its own (``<flow>:backfill:<since>-<until>``), so its
cursors, resumable after a crash or Ctrl-C with ``--resume RUN_ID``, never move the
incremental flow's high-water mark. Records that already landed cost a hash comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from connectors.base import Cursor
from sync.engine.flows import Flow

_STAMP = "%Y-%m-%dT%H:%M:%S+0000"
_NAME_STAMP = "%Y%m%dT%H%M%S"


class BackfillWindowInvalid(ValueError):
    """The --since/--until values do not describe a window of time."""


@dataclass(frozen=True)
class BackfillWindow:
    """The closed window ``since`` .. ``until`` (None: up to now) in UTC."""

    since: datetime
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.until is not None and self.until <= self.since:
            raise BackfillWindowInvalid("--until must be later than --since")

    @property
    def start_cursor(self) -> Cursor:
        """A cursor just before the window: records stamped at ``since`` are included."""
        return Cursor(self.since.strftime(_STAMP), "")

    @property
    def until_stamp(self) -> str | None:
        """The upper bound in the form connectors take."""
        return self.until.strftime(_STAMP) if self.until else None

    def flow_for(self, flow: Flow) -> Flow:
        """The flow under the backfill's own name (and so its own cursors)."""
        until = self.until.strftime(_NAME_STAMP) if self.until else "now"
        return replace(
            flow, name=f"{flow.name}:backfill:{self.since.strftime(_NAME_STAMP)}-{until}"
        )

    @classmethod
    def from_flow_name(cls, name: str) -> tuple[str, BackfillWindow]:
        """The base flow and window of a backfill flow name (for --resume)."""
        base, marker, span = name.rpartition(":backfill:")
        if not marker:
            raise BackfillWindowInvalid(f"run of flow {name!r} is not a backfill")
        since_text, _, until_text = span.partition("-")
        since = datetime.strptime(since_text, _NAME_STAMP).replace(tzinfo=UTC)
        until = None if until_text == "now" else datetime.strptime(until_text, _NAME_STAMP)
        return base, cls(since, until.replace(tzinfo=UTC) if until else None)


def parse_moment(text: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 date-time (UTC when no offset is given)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BackfillWindowInvalid(
            f"{text!r} is not a date (2026-01-31) or date-time (2026-01-31T08:00:00Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
