"""The runs pages: the newest runs, and one run's counts, API calls, duration and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from sync.console.auth import ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.store.error_queue import ErrorFilter, list_errors
from sync.store.flow_status import run_history
from sync.store.runs import RunRow, find_run

router = APIRouter()

PAGE_SIZE = 50
COUNT_NAMES = ("read", "created", "updated", "unchanged", "deferred", "rejected", "conflicts")


@dataclass(frozen=True)
class RunLine:
    """A run as the pages show it: its row plus totals read from its stored counts."""

    id: int
    flow: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    written: int
    rejected: int
    message: str | None


@dataclass(frozen=True)
class EntityCounts:
    """One entity's counts in one system during a run."""

    entity: str
    system: str
    counts: dict[str, int]


def _number(value: Any) -> int:
    # Stored counts are the engine's own ints; anything else (an old or hand-edited row) is 0.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _entity_counts(stats: dict[str, Any]) -> list[EntityCounts]:
    entities = stats.get("entities")
    if not isinstance(entities, dict):
        return []
    lines = []
    for entity, systems in sorted(entities.items()):
        if not isinstance(systems, dict):
            continue
        for system, counts in sorted(systems.items()):
            if isinstance(counts, dict):
                numbers = {name: _number(counts.get(name)) for name in COUNT_NAMES}
                lines.append(EntityCounts(str(entity), str(system), numbers))
    return lines


def run_line(run: RunRow) -> RunLine:
    """The run's totals: written is created + updated outside the canonical store."""
    lines = _entity_counts(run.stats)
    written = sum(
        line.counts["created"] + line.counts["updated"]
        for line in lines
        if line.system != "canonical"
    )
    duration = None
    if run.finished_at is not None:
        duration = (run.finished_at - run.started_at).total_seconds()
    return RunLine(
        id=run.id,
        flow=run.flow,
        status=run.status.value,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=duration,
        written=written,
        rejected=sum(line.counts["rejected"] for line in lines),
        message=run.message,
    )


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    flow: str | None = Query(default=None, max_length=80),
) -> HTMLResponse:
    """The newest runs first."""
    with context.store.engine.connect() as connection:
        runs = run_history(connection, flow=flow or None, limit=PAGE_SIZE)
    return render(request, "pages/runs.html", {"runs": [run_line(run) for run in runs]})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, user: ViewerUser, context: Context, run_id: int) -> HTMLResponse:
    """One run: per-entity counts, API calls per system, duration and the errors it queued."""
    with context.store.engine.connect() as connection:
        run = find_run(connection, run_id)
        errors = list_errors(connection, where=ErrorFilter(run_id=run_id), limit=200)
    if run is None:
        page = {"title": "Not found", "message": f"There is no run {run_id}."}
        return render(request, "error.html", page, 404)
    calls = run.stats.get("api_calls")
    api_calls = (
        sorted((str(k), _number(v)) for k, v in calls.items()) if isinstance(calls, dict) else []
    )
    return render(
        request,
        "pages/run_detail.html",
        {
            "run": run_line(run),
            "entity_counts": _entity_counts(run.stats),
            "count_names": COUNT_NAMES,
            "api_calls": api_calls,
            "errors": errors,
        },
    )
