"""Runs for the console: a keyset-paged list, and one run's counts, API calls and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sync.store.conflict_log import ConflictFilter, ConflictRow, list_conflicts
from sync.store.error_queue import ErrorFilter
from sync.store.error_queue_pages import ErrorPage, PageRequest, error_page
from sync.store.runs import RunRow, find_run, run_row
from sync.store.schema import RunStatus, runs

CANONICAL = "canonical"  # the canonical store's row in a run's counts (not a target)


@dataclass(frozen=True)
class RunVolume:
    """What one run wrote and rejected, for the overview's chart."""

    run_id: int
    flow: str
    status: str
    written: int
    rejected: int


@dataclass(frozen=True)
class RunListPage:
    """Runs, newest first, and the id to continue below (None on the last page)."""

    runs: list[RunRow]
    next_before_id: int | None


@dataclass(frozen=True)
class RunDetail:
    """One run: its row, counts per entity and system, API calls per system, errors, conflicts."""

    run: RunRow
    duration_seconds: float | None
    counts: dict[str, dict[str, dict[str, int]]]  # entity -> system -> counter -> n
    api_calls: dict[str, int]
    errors: ErrorPage
    conflicts: list[ConflictRow]


def _counters(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if type(v) is int}


def run_counts(stats: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """The per-entity, per-system counters of a run's stored stats (odd shapes dropped)."""
    entities = stats.get("entities")
    if not isinstance(entities, dict):
        return {}
    return {
        str(entity): {str(system): _counters(counts) for system, counts in per_system.items()}
        for entity, per_system in entities.items()
        if isinstance(per_system, dict)
    }


def run_volume(run: RunRow) -> RunVolume:
    """Records written to targets and rejected anywhere in ``run``."""
    written = rejected = 0
    for per_system in run_counts(run.stats).values():
        for system, counts in per_system.items():
            rejected += counts.get("rejected", 0)
            if system != CANONICAL:
                written += counts.get("created", 0) + counts.get("updated", 0)
    return RunVolume(run.id, run.flow, run.status.value, written, rejected)


def list_runs(
    connection: sa.Connection,
    *,
    flow: str | None = None,
    status: RunStatus | None = None,
    before_id: int | None = None,
    size: int = 50,
) -> RunListPage:
    """A page of runs, newest first; ``before_id`` continues from a page's ``next_before_id``."""
    size = max(1, min(size, 500))
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(size + 1)
    if flow is not None:
        query = query.where(runs.c.flow == flow)
    if status is not None:
        query = query.where(runs.c.status == status.value)
    if before_id is not None:
        query = query.where(runs.c.id < before_id)
    rows = [run_row(row) for row in connection.execute(query)]
    more = len(rows) > size
    rows = rows[:size]
    return RunListPage(rows, rows[-1].id if more and rows else None)


def run_detail(
    connection: sa.Connection, run_id: int, errors_after: str | None = None
) -> RunDetail | None:
    """Run ``run_id`` in detail (its errors a page at a time), or None when there is none.

    Raises BadCursor for an ``errors_after`` cursor this store did not hand out.
    """
    run = find_run(connection, run_id)
    if run is None:
        return None
    duration = None
    if run.finished_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    errors = error_page(
        connection, PageRequest(where=ErrorFilter(run_id=run_id), after=errors_after, size=50)
    )
    conflicts = list_conflicts(connection, ConflictFilter(run_id=run_id), limit=200)
    return RunDetail(
        run=run,
        duration_seconds=duration,
        counts=run_counts(run.stats),
        api_calls=_counters(run.stats.get("api_calls")),
        errors=errors,
        conflicts=conflicts,
    )
