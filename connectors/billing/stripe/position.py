"""Where an incremental read of a Stripe list stands: two positions in one engine cursor.

Stripe objects have no last-modified stamp, so a read has two halves (see
:mod:`connectors.billing.stripe.changes`): objects *created* since the newest one read, and
objects that *events* since the newest event read name (an invoice paid, voided, marked
uncollectible; a charge refunded; a credit note voided). The engine stores one
:class:`~connectors.base.Cursor` per entity, ``(modified, record_id)``; the position keeps
both halves in it::

    modified  = "2026-01-05T10:00:07+00:00"            created stamp of the newest object read
    record_id = "in_0007 events=1767607215/evt_0042 read=1765133000"

``in_0007`` breaks ties on the created second as before; ``events=`` is the newest event read
(``created/id``, or ``none`` when there was none yet), ``read=`` the Unix time (revbridge's
clock) at which events were last listed. Stripe keeps events 30 days: a position whose events
were listed longer ago than that may have missed some, and the read starts over. A cursor
written before events were read (``record_id`` an object id alone) has no ``events=`` part and
is treated the same way; so is none at all, where there is nothing to miss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from connectors.base import Cursor
from connectors.errors import ConfigError

SYSTEM = "billing"
_EPOCH = datetime.fromtimestamp(0, UTC).isoformat()
_RECORD_ID = re.compile(
    r"^(?P<object>\S*) events=(?:(?P<created>\d+)/(?P<event>\S+)|none) read=(?P<read>\d+)$"
)


@dataclass(frozen=True)
class EventMark:
    """The newest event read: its created second and id."""

    created: int
    event_id: str


@dataclass(frozen=True)
class StripePosition:
    """The newest object read (by created) and how far the events were read."""

    created: int = 0
    object_id: str = ""
    # None with ``events_read_at`` set: events were listed and there were none.
    last_event: EventMark | None = None
    # None: events never listed under this position (a first read, or an older cursor).
    events_read_at: int | None = None

    @property
    def object_key(self) -> tuple[int, str]:
        """``(created, id)``: objects strictly after it are new."""
        return self.created, self.object_id

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> StripePosition:
        """The position a stored cursor holds (an older cursor: its object half only)."""
        if cursor is None:
            return cls()
        created = _seconds(cursor.modified) if cursor.modified else 0
        match = _RECORD_ID.match(cursor.record_id)
        if match is None:
            return cls(created, cursor.record_id)
        event = match.group("event")
        mark = EventMark(int(match.group("created")), event) if event else None
        return cls(created, match.group("object"), mark, int(match.group("read")))

    def to_cursor(self) -> Cursor:
        """The engine cursor holding this position."""
        modified = datetime.fromtimestamp(self.created, UTC).isoformat() if self.created else ""
        if self.events_read_at is None:
            return Cursor(modified or _EPOCH, self.object_id)
        mark = self.last_event
        events = f"{mark.created}/{mark.event_id}" if mark else "none"
        record_id = f"{self.object_id} events={events} read={self.events_read_at}"
        return Cursor(modified or _EPOCH, record_id)

    def after_object(self, created: int, object_id: str) -> StripePosition:
        """This position moved past one more object."""
        return replace(self, created=created, object_id=object_id)


def _seconds(stamp: str) -> int:
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        raise ConfigError(f"unreadable cursor {stamp!r}", system=SYSTEM) from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
