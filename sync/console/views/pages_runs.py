"""The runs pages: runs newest first (paged by id), and one run's counts, calls and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from sync.console.auth import ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.console.schemas import MAX_ID
from sync.console.views.pages_values import NO_NUL
from sync.store.error_queue_pages import BadCursor
from sync.store.run_detail import list_runs, run_detail, run_volume
from sync.store.runs import RunRow

router = APIRouter()

PAGE_SIZE = 50
COUNT_NAMES = ("read", "created", "updated", "unchanged", "deferred", "rejected", "conflicts")


@dataclass(frozen=True)
class RunLine:
    """A run as the list shows it."""

    id: int
    flow: str
    status: str
    started_at: datetime
    duration_seconds: float | None
    written: int
    rejected: int


@dataclass(frozen=True)
class EntityCounts:
    """One entity's counts in one system during a run."""

    entity: str
    system: str
    counts: dict[str, int]


def run_line(run: RunRow) -> RunLine:
    """The run's row with its totals."""
    volume = run_volume(run)
    duration = None
    if run.finished_at is not None:
        duration = (run.finished_at - run.started_at).total_seconds()
    return RunLine(
        run.id,
        run.flow,
        run.status.value,
        run.started_at,
        duration,
        volume.written,
        volume.rejected,
    )


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    flow: str = Query(default="", max_length=80, pattern=NO_NUL),
    before: int | None = Query(default=None, ge=1, le=MAX_ID),
) -> HTMLResponse:
    """Runs, newest first, a page at a time."""
    with context.store.engine.connect() as connection:
        page = list_runs(connection, flow=flow or None, before_id=before, size=PAGE_SIZE)
    next_url = None
    if page.next_before_id is not None:
        next_url = f"/runs?before={page.next_before_id}"
    lines = [run_line(run) for run in page.runs]
    return render(request, "pages/runs.html", {"runs": lines, "next_url": next_url})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    run_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    errors_after: str = Query(default="", max_length=500, pattern=NO_NUL),
) -> HTMLResponse:
    """One run: per-entity counts, API calls per system, duration and the errors it queued."""
    with context.store.engine.connect() as connection:
        try:
            detail = run_detail(connection, run_id, errors_after or None)
        except BadCursor:
            detail = run_detail(connection, run_id)
    if detail is None:
        page = {"title": "Not found", "message": f"There is no run {run_id}."}
        return render(request, "error.html", page, 404)
    counts = [
        EntityCounts(entity, system, numbers)
        for entity, systems in sorted(detail.counts.items())
        for system, numbers in sorted(systems.items())
    ]
    next_errors = None
    if detail.errors.next_cursor:
        next_errors = f"/runs/{run_id}?errors_after={detail.errors.next_cursor}"
    values = {
        "run": run_line(detail.run),
        "message": detail.run.message,
        "finished_at": detail.run.finished_at,
        "entity_counts": counts,
        "count_names": COUNT_NAMES,
        "api_calls": sorted(detail.api_calls.items()),
        "errors": detail.errors.rows,
        "next_errors_url": next_errors,
    }
    return render(request, "pages/run_detail.html", values)
