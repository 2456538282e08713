"""The console's overview: each flow's state, open errors grouped, conflicts waiting, and trends.

Every figure is one grouped query over an index (status, created/updated time, runs by id), so
the page costs the same with 100,000 entries as with 100.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from sync.store.conflict_log import ConflictStatus
from sync.store.flow_status import FlowState, flow_states
from sync.store.run_detail import RunVolume, run_volume
from sync.store.runs import run_row
from sync.store.schema import ErrorStatus, UtcDateTime, conflict_log, error_queue, runs

_ACTIVE = (ErrorStatus.OPEN.value, ErrorStatus.RETRYING.value)
_CLOSED = (ErrorStatus.RESOLVED.value, ErrorStatus.IGNORED.value)
TREND_DAYS = 30
RECENT_RUNS = 50


@dataclass(frozen=True)
class QueueDay:
    """How many entries were open (or retrying) at the end of one UTC day."""

    day: date
    open: int


@dataclass(frozen=True)
class Overview:
    """Everything the overview page shows."""

    flows: list[FlowState]
    open_by_entity: dict[str, int]
    open_by_system: dict[str, int]
    open_by_class: dict[str, int]
    conflicts_waiting: int
    recent_runs: list[RunVolume]  # oldest first, for a chart
    queue_by_day: list[QueueDay]  # oldest first


@dataclass(frozen=True)
class _OpenGroups:
    by_entity: dict[str, int]
    by_system: dict[str, int]
    by_class: dict[str, int]


def _open_groups(connection: sa.Connection) -> _OpenGroups:
    """Open entries by entity, by system and by class, from one grouped scan."""
    # An entry belongs to its target when it has one (the write failed there), else its source.
    system = sa.case(
        (error_queue.c.target_system != "", error_queue.c.target_system),
        else_=error_queue.c.source_system,
    )
    query = (
        sa.select(error_queue.c.entity, system, error_queue.c.error_class, sa.func.count())
        .where(error_queue.c.status.in_(_ACTIVE))
        .group_by(error_queue.c.entity, system, error_queue.c.error_class)
    )
    groups = _OpenGroups({}, {}, {})
    for entity, owner, error_class, count in connection.execute(query):
        for totals, key in ((groups.by_entity, entity), (groups.by_system, owner),
                            (groups.by_class, error_class)):  # fmt: skip
            totals[str(key)] = totals.get(str(key), 0) + int(count)
    return _OpenGroups(*(_largest_first(totals) for totals in
                         (groups.by_entity, groups.by_system, groups.by_class)))  # fmt: skip


def _largest_first(totals: dict[str, int]) -> dict[str, int]:
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def _conflicts_waiting(connection: sa.Connection) -> int:
    query = sa.select(sa.func.count()).where(conflict_log.c.status == ConflictStatus.OPEN.value)
    return int(connection.execute(query).scalar_one())


def _recent_runs(connection: sa.Connection) -> list[RunVolume]:
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(RECENT_RUNS)
    return [run_volume(run_row(row)) for row in reversed(list(connection.execute(query)))]


def _utc_day(dialect: str, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[Any]:
    """The UTC calendar day of a timestamp: PostgreSQL's date of it at UTC (cheap), SQLite's
    date() of its stored UTC text."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def queue_by_day(connection: sa.Connection, today: date, days: int = TREND_DAYS) -> list[QueueDay]:
    """Entries open at the end of each of the last ``days`` UTC days.

    An entry is open from the day it was created until the day it was closed (a closed entry's
    ``updated_at`` is when: nothing updates it after that), so entries are counted by (day
    created, day closed) and the days are summed here: a few hundred groups at most, whatever
    the queue's size.
    """
    first = today - timedelta(days=days - 1)
    first_end = datetime.combine(first, time.max, tzinfo=UTC)
    table = error_queue.c
    dialect = connection.dialect.name
    created_day = _utc_day(dialect, table.created_at)
    # Two scans, each on an index: open entries by the day they were created (status, created_at)
    # and entries closed within the window (status, updated_at); those closed before the first
    # day ended count on no day.
    still_open = (
        sa.select(created_day, sa.null(), sa.func.count())
        .where(table.status.in_(_ACTIVE))
        .group_by(created_day)
    )
    closed_day = _utc_day(dialect, table.updated_at)
    closed = (
        sa.select(created_day, closed_day, sa.func.count())
        .where(
            table.status.in_(_CLOSED),
            table.updated_at > sa.literal(first_end, UtcDateTime()),
        )
        .group_by(created_day, closed_day)
    )
    spans = [*connection.execute(still_open), *connection.execute(closed)]
    wanted = [first + timedelta(days=offset) for offset in range(days)]
    counts = dict.fromkeys(wanted, 0)
    for created, closed_on, count in spans:
        opened_day = _as_date(created)
        ended_day = _as_date(closed_on) if closed_on is not None else None
        for day in wanted:
            if opened_day <= day and (ended_day is None or day < ended_day):
                counts[day] += int(count)
    return [QueueDay(day, counts[day]) for day in wanted]


def overview(connection: sa.Connection, flows: Iterable[str], now: datetime) -> Overview:
    """The overview as of ``now`` for ``flows`` (the configured ones, then any with runs)."""
    groups = _open_groups(connection)
    return Overview(
        flows=flow_states(connection, flows, now),
        open_by_entity=groups.by_entity,
        open_by_system=groups.by_system,
        open_by_class=groups.by_class,
        conflicts_waiting=_conflicts_waiting(connection),
        recent_runs=_recent_runs(connection),
        queue_by_day=queue_by_day(connection, now.date()),
    )
