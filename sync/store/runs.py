"""Run history: one row per sync run with its counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.schema import RunStatus, runs, utc_now


@dataclass(frozen=True)
class RunRow:
    """A run as stored."""

    id: int
    flow: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    stats: dict[str, Any]
    message: str | None


def start_run(connection: sa.Connection, flow: str) -> int:
    """Insert a running run and return its id."""
    statement = sa.insert(runs).values(
        flow=flow, status=RunStatus.RUNNING.value, started_at=utc_now(), stats={}
    )
    primary_key = connection.execute(statement).inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])


def finish_run(
    connection: sa.Connection,
    run_id: int,
    status: RunStatus,
    stats: dict[str, Any],
    message: str | None = None,
) -> None:
    """Close a run with its final status and counts."""
    statement = (
        sa.update(runs)
        .where(runs.c.id == run_id)
        .values(status=status.value, finished_at=utc_now(), stats=stats, message=message)
    )
    connection.execute(statement)


def find_run(connection: sa.Connection, run_id: int) -> RunRow | None:
    """The run with id ``run_id``, or None."""
    row = connection.execute(sa.select(runs).where(runs.c.id == run_id)).first()
    return run_row(row) if row is not None else None


def run_row(row: sa.Row[Any]) -> RunRow:
    """A runs row as :class:`RunRow`."""
    return RunRow(
        id=row.id,
        flow=row.flow,
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        stats=dict(row.stats),
        message=row.message,
    )


def recent_runs(connection: sa.Connection, limit: int = 20) -> list[RunRow]:
    """The newest runs first."""
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
    return [run_row(row) for row in connection.execute(query)]
