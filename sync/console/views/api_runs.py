"""``/api/runs``, ``/api/overview`` and ``/api/audit``: runs, the morning overview, who did what."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from sync.console.auth import ViewerUser
from sync.console.context import Context
from sync.console.schemas import (
    MAX_ID,
    AuditOut,
    AuditPageOut,
    ConflictOut,
    FlowOut,
    OverviewOut,
    QueueDayOut,
    RunDetailOut,
    RunOut,
    RunPageOut,
    RunVolumeOut,
)
from sync.console.views.api_errors import page_out
from sync.console.views.pages_overview import next_run
from sync.store.audit import AuditFilter, list_audit
from sync.store.error_queue_pages import BadCursor
from sync.store.flow_status import known_flows
from sync.store.overview import overview
from sync.store.run_detail import list_runs, run_detail
from sync.store.schema import RunStatus

router = APIRouter(prefix="/api", tags=["runs"])

_NO_NUL = r"^[^\x00]*$"
Name = Annotated[str | None, Query(max_length=200, pattern=_NO_NUL)]
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A cursor this store did not hand out"},
    404: {"description": "No such run"},
    422: {"description": "A parameter of the wrong type or shape"},
}
SYSTEMS = ("salesforce", "billing", "erp")  # which systems, never their settings


@router.get("/runs", response_model=RunPageOut, responses=_REFUSALS)
def runs(
    _user: ViewerUser,
    context: Context,
    flow: Name = None,
    status: RunStatus | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunPageOut:
    """Runs, newest first; follow ``next_before_id`` with ``before_id``."""
    with context.store.engine.connect() as connection:
        page = list_runs(connection, flow=flow, status=status, before_id=before_id, size=size)
    return RunPageOut(
        items=[RunOut.model_validate(run) for run in page.runs],
        next_before_id=page.next_before_id,
    )


@router.get("/runs/{run_id}", response_model=RunDetailOut, responses=_REFUSALS)
def run(
    run_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    _user: ViewerUser,
    context: Context,
    errors_after: Annotated[str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_-]*$")] = None,
) -> RunDetailOut:
    """One run: counts per entity and system, API calls per system, duration and its errors."""
    try:
        with context.store.engine.connect() as connection:
            detail = run_detail(connection, run_id, errors_after)
    except BadCursor as error:
        raise HTTPException(400, str(error)) from None
    if detail is None:
        raise HTTPException(404, f"no run {run_id}")
    return RunDetailOut(
        run=RunOut.model_validate(detail.run),
        duration_seconds=detail.duration_seconds,
        counts=detail.counts,
        api_calls=detail.api_calls,
        errors=page_out(context, detail.errors),
        conflicts=[ConflictOut.model_validate(row) for row in detail.conflicts],
    )


@router.get("/overview", response_model=OverviewOut, responses=_REFUSALS)
def overview_data(_user: ViewerUser, context: Context) -> OverviewOut:
    """Each flow's last run, lag and next run; open errors grouped; conflicts waiting; trends."""
    now = context.clock()
    configured = {flow.name: flow for flow in context.settings.flows}
    with context.store.engine.connect() as connection:
        view = overview(connection, known_flows(connection, configured), now)
    flows = [
        FlowOut(
            flow=state.flow,
            last_run=RunOut.model_validate(state.last_run) if state.last_run else None,
            last_success_at=state.last_success_at,
            lag_seconds=state.lag_seconds,
            next_run_at=next_run(configured.get(state.flow), now),
            open_errors=state.open_errors,
        )
        for state in view.flows
    ]
    return OverviewOut(
        flows=flows,
        open_by_entity=view.open_by_entity,
        open_by_system=view.open_by_system,
        open_by_class=view.open_by_class,
        conflicts_waiting=view.conflicts_waiting,
        recent_runs=[RunVolumeOut.model_validate(volume) for volume in view.recent_runs],
        queue_by_day=[QueueDayOut.model_validate(day) for day in view.queue_by_day],
        systems_configured=list(SYSTEMS),
    )


@router.get("/audit", response_model=AuditPageOut, responses=_REFUSALS)
def audit(
    _user: ViewerUser,
    context: Context,
    actor: Name = None,
    action: Name = None,
    record_id: Annotated[str | None, Query(max_length=255, pattern=_NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPageOut:
    """Actions people took, newest first: who, when, what, the note and the records."""
    ids = (record_id,) if record_id else ()
    where = AuditFilter(actor=actor, action=action, canonical_ids=ids, source_ids=ids)
    with context.store.engine.connect() as connection:
        entries = list_audit(connection, where, limit=limit)
    return AuditPageOut(items=[AuditOut.model_validate(entry) for entry in entries])
