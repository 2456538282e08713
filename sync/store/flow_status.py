"""Where each flow stands, read from the store: last run, lag since success, open errors, lease.

Everything here is read from the shared store, so any replica (or `revbridge status` on a
laptop) sees the same state, including runs made by other replicas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.leases import list_leases
from sync.store.runs import RunRow
from sync.store.schema import ErrorStatus, RunStatus, error_queue, runs

_SUCCESSFUL = (RunStatus.SUCCEEDED.value, RunStatus.PARTIAL.value)
_ACTIVE_ERRORS = (ErrorStatus.OPEN.value, ErrorStatus.RETRYING.value)


@dataclass(frozen=True)
class FlowState:
    """One flow's current state."""

    flow: str
    last_run: RunRow | None
    last_success_at: datetime | None
    lag_seconds: float | None  # since the last successful run finished; None if none did
    open_errors: int
    lease_owner: str | None
    lease_expires_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form for `revbridge status --json`."""
        last = self.last_run
        return {
            "flow": self.flow,
            "last_run": run_json(last) if last is not None else None,
            "last_success_at": _iso(self.last_success_at),
            "lag_seconds": self.lag_seconds,
            "open_errors": self.open_errors,
            "lease_owner": self.lease_owner,
            "lease_expires_at": _iso(self.lease_expires_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_json(run: RunRow) -> dict[str, Any]:
    """A stored run as JSON-ready data, with its duration."""
    duration = None
    if run.finished_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "run_id": run.id,
        "flow": run.flow,
        "status": run.status.value,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_seconds": duration,
        "message": run.message,
        **run.stats,
    }


def _run_row(row: sa.Row[Any]) -> RunRow:
    return RunRow(
        id=row.id,
        flow=row.flow,
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        stats=dict(row.stats),
        message=row.message,
    )


def run_history(connection: sa.Connection, *, flow: str | None, limit: int) -> list[RunRow]:
    """The newest runs first, of one flow or of all."""
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
    if flow is not None:
        query = query.where(runs.c.flow == flow)
    return [_run_row(row) for row in connection.execute(query)]


def error_counts_by_status(connection: sa.Connection) -> dict[ErrorStatus, int]:
    """Error-queue entries per status, every status present (zero when none)."""
    query = sa.select(error_queue.c.status, sa.func.count()).group_by(error_queue.c.status)
    counts = dict.fromkeys(ErrorStatus, 0)
    for status, count in connection.execute(query):
        counts[ErrorStatus(status)] = int(count)
    return counts


def last_success_by_flow(connection: sa.Connection) -> dict[str, datetime]:
    """When each flow's most recent successful (or partial) run finished."""
    query = (
        sa.select(runs.c.flow, sa.func.max(runs.c.finished_at))
        .where(runs.c.status.in_(_SUCCESSFUL))
        .group_by(runs.c.flow)
    )
    # max() keeps the column's type, so SQLite's text comes back as an aware datetime too.
    return {flow: at for flow, at in connection.execute(query) if at is not None}


def _open_errors_by_flow(connection: sa.Connection) -> dict[str, int]:
    query = (
        sa.select(error_queue.c.flow, sa.func.count())
        .where(error_queue.c.status.in_(_ACTIVE_ERRORS))
        .group_by(error_queue.c.flow)
    )
    return {flow: int(count) for flow, count in connection.execute(query)}


def known_flows(connection: sa.Connection, configured: Iterable[str]) -> list[str]:
    """The configured flows, then any other flow the store has runs of."""
    names = list(dict.fromkeys(configured))
    stored = connection.execute(sa.select(runs.c.flow).distinct().order_by(runs.c.flow))
    return names + [flow for (flow,) in stored if flow not in names]


def flow_states(connection: sa.Connection, flows: Iterable[str], now: datetime) -> list[FlowState]:
    """The state of each of ``flows``, as of ``now``."""
    successes = last_success_by_flow(connection)
    open_errors = _open_errors_by_flow(connection)
    leases = list_leases(connection)
    states = []
    for flow in flows:
        history = run_history(connection, flow=flow, limit=1)
        success = successes.get(flow)
        lease = leases.get(flow)
        held = lease is not None and lease.held_at(now)
        states.append(
            FlowState(
                flow=flow,
                last_run=history[0] if history else None,
                last_success_at=success,
                lag_seconds=round((now - success).total_seconds(), 3) if success else None,
                open_errors=open_errors.get(flow, 0),
                lease_owner=lease.owner if held and lease is not None else None,
                lease_expires_at=lease.expires_at if held and lease is not None else None,
            )
        )
    return states
