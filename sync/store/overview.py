"""The console's overview: each flow's state, open errors grouped, conflicts waiting, and trends.

Every figure is one grouped query over an index (status, created/updated time, runs by id), so
the page costs the same with 100,000 entries as with 100.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from sync.store.conflict_log import ConflictStatus
from sync.store.flow_status import FlowState, flow_states
from sync.store.run_detail import RunVolume, run_volume
from sync.store.runs import run_row
from sync.store.schema import ErrorStatus, UtcDateTime, conflict_log, error_queue, runs

_ACTIVE = (ErrorStatus.OPEN.value, ErrorStatus.RETRYING.value)
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


def _open_grouped(connection: sa.Connection, column: sa.ColumnElement[str]) -> dict[str, int]:
    query = (
        sa.select(column, sa.func.count())
        .where(error_queue.c.status.in_(_ACTIVE))
        .group_by(column)
        .order_by(sa.func.count().desc())
    )
    return {str(key): int(count) for key, count in connection.execute(query)}


def _by_system(connection: sa.Connection) -> dict[str, int]:
    # An entry belongs to its target when it has one (the write failed there), else its source.
    system = sa.case(
        (error_queue.c.target_system != "", error_queue.c.target_system),
        else_=error_queue.c.source_system,
    )
    return _open_grouped(connection, system)


def _conflicts_waiting(connection: sa.Connection) -> int:
    query = sa.select(sa.func.count()).where(conflict_log.c.status == ConflictStatus.OPEN.value)
    return int(connection.execute(query).scalar_one())


def _recent_runs(connection: sa.Connection) -> list[RunVolume]:
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(RECENT_RUNS)
    return [run_volume(run_row(row)) for row in reversed(list(connection.execute(query)))]


def queue_by_day(connection: sa.Connection, today: date, days: int = TREND_DAYS) -> list[QueueDay]:
    """Entries open at the end of each of the last ``days`` UTC days, in one pass.

    An entry counts from its creation until it was closed; a closed entry's ``updated_at`` is
    when it was closed (nothing updates it after that).
    """
    ends = [
        datetime.combine(today - timedelta(days=back), time.max, tzinfo=UTC)
        for back in range(days - 1, -1, -1)
    ]
    table = error_queue.c
    active = table.status.in_(_ACTIVE)
    columns = [
        sa.func.sum(sa.case(
            (sa.and_(table.created_at <= sa.literal(end, UtcDateTime()),
                     sa.or_(active, table.updated_at > sa.literal(end, UtcDateTime()))), 1),
            else_=0,
        ))
        for end in ends
    ]  # fmt: skip
    # Entries closed before the first day ended count on no day: leave them out of the scan.
    window = sa.or_(active, table.updated_at > sa.literal(ends[0], UtcDateTime()))
    row = connection.execute(sa.select(*columns).where(window)).one()
    return [QueueDay(end.date(), int(count or 0)) for end, count in zip(ends, row, strict=True)]


def overview(connection: sa.Connection, flows: Iterable[str], now: datetime) -> Overview:
    """The overview as of ``now`` for ``flows`` (the configured ones, then any with runs)."""
    return Overview(
        flows=flow_states(connection, flows, now),
        open_by_entity=_open_grouped(connection, error_queue.c.entity),
        open_by_system=_by_system(connection),
        open_by_class=_open_grouped(connection, error_queue.c.error_class),
        conflicts_waiting=_conflicts_waiting(connection),
        recent_runs=_recent_runs(connection),
        queue_by_day=queue_by_day(connection, now.date()),
    )
