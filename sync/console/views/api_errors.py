"""``/api/errors``: the error queue as JSON, one entry in full, and bulk retry, resolve, ignore.

The same store queries and the same audited actions as the error-queue page: what a script
sees and does here is what a person sees and does there.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from sync.console.auth import SupportUser, ViewerUser, identify
from sync.console.context import Context
from sync.console.schemas import (
    MAX_ID,
    ActionOut,
    AttemptOut,
    AuditOut,
    ErrorActionIn,
    ErrorDetailOut,
    ErrorOut,
    ErrorPageOut,
)
from sync.console.views.pages_error_actions import ErrorAction, act_on_errors, action_problem
from sync.console.views.pages_values import source_record_url
from sync.store.audit import ActorKind
from sync.store.error_details import error_detail
from sync.store.error_queue import ErrorFilter, ErrorRow
from sync.store.error_queue_pages import (
    BadCursor,
    ErrorPage,
    ErrorSort,
    PageRequest,
    error_page,
    parse_age,
)
from sync.store.schema import ErrorStatus

router = APIRouter(prefix="/api/errors", tags=["errors"])

_NO_NUL = r"^[^\x00]*$"  # PostgreSQL holds no U+0000 in text, so no filter can name one
Name = Annotated[str | None, Query(max_length=80, pattern=_NO_NUL)]
Age = Annotated[str | None, Query(pattern=r"^\d{1,6}[mhdw]$", description="e.g. 30m, 12h, 7d")]
Cursor = Annotated[str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_-]*$")]
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A cursor this store did not hand out"},
    404: {"description": "No such entry"},
    422: {"description": "A parameter of the wrong type or shape"},
}


def error_out(context: Context, row: ErrorRow) -> ErrorOut:
    """An entry as the API shows it, with a link to the record in its source system."""
    out = ErrorOut.model_validate(row)
    out.source_url = source_record_url(context.settings, row.source_system, row.source_id)
    return out


def page_out(context: Context, page: ErrorPage) -> ErrorPageOut:
    """A page of entries as the API shows it."""
    return ErrorPageOut(
        items=[error_out(context, row) for row in page.rows],
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
    )


@router.get("", response_model=ErrorPageOut, responses=_REFUSALS)
def list_error_page(
    _user: ViewerUser,
    context: Context,
    status: ErrorStatus | None = None,
    entity: Name = None,
    system: Name = None,
    error_class: Name = None,
    older_than: Age = None,
    newer_than: Age = None,
    text: Annotated[str | None, Query(max_length=200, pattern=_NO_NUL)] = None,
    sort: ErrorSort = ErrorSort.NEWEST,
    after: Cursor = None,
    before: Cursor = None,
    last: bool = False,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ErrorPageOut:
    """A page of entries, filtered and sorted; follow ``next_cursor`` with ``after``."""
    try:
        where = ErrorFilter(
            status=status,
            entity=entity,
            system=system,
            error_class=error_class,
            older_than=parse_age(older_than) if older_than else None,
            newer_than=parse_age(newer_than) if newer_than else None,
        )
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    request = PageRequest(where, text, sort, after, before, last, size)
    try:
        with context.store.engine.connect() as connection:
            page = error_page(connection, request)
    except BadCursor as error:
        raise HTTPException(400, str(error)) from None
    return page_out(context, page)


@router.get("/{error_id}", response_model=ErrorDetailOut, responses=_REFUSALS)
def show_error(
    error_id: Annotated[int, Path(ge=1, le=MAX_ID)], _user: ViewerUser, context: Context
) -> ErrorDetailOut:
    """One entry: its reason, payload as sent, attempts with their times, and actions taken."""
    with context.store.engine.connect() as connection:
        detail = error_detail(connection, error_id)
    if detail is None:
        raise HTTPException(404, f"no error-queue entry {error_id}")
    return ErrorDetailOut(
        entry=error_out(context, detail.entry),
        payload=detail.entry.payload,
        attempts=[AttemptOut.model_validate(attempt) for attempt in detail.attempts],
        actions=[AuditOut.model_validate(action) for action in detail.actions],
    )


def actor_kind(request: Request, context: Context) -> ActorKind:
    """How the person acting signed in: a script's API token is audited as such."""
    via_token = identify(request, context).via == "token"
    return ActorKind.API_TOKEN if via_token else ActorKind.CONSOLE_USER


async def _act(
    request: Request, user: SupportUser, context: Context, action: str, body: ErrorActionIn
) -> ActionOut:
    note = (body.note or "").strip() or None
    kind = actor_kind(request, context)
    wanted = ErrorAction(user.name, action, tuple(body.ids), note, kind)
    problem = action_problem(wanted)
    if problem is not None:
        raise HTTPException(422, problem)
    outcome = await act_on_errors(context, wanted)
    return ActionOut(lines=outcome.lines, problem=outcome.problem)


@router.post("/retry", response_model=ActionOut, responses=_REFUSALS)
async def retry_errors(
    request: Request, user: SupportUser, context: Context, body: ErrorActionIn
) -> ActionOut:
    """Re-read the records from their source and sync them with today's mappings."""
    return await _act(request, user, context, "retry", body)


@router.post("/resolve", response_model=ActionOut, responses=_REFUSALS)
async def resolve_errors(
    request: Request, user: SupportUser, context: Context, body: ErrorActionIn
) -> ActionOut:
    """Mark entries resolved (fixed by hand, say); needs a note. The decision sticks."""
    return await _act(request, user, context, "resolve", body)


@router.post("/ignore", response_model=ActionOut, responses=_REFUSALS)
async def ignore_errors(
    request: Request, user: SupportUser, context: Context, body: ErrorActionIn
) -> ActionOut:
    """Mark entries ignored; needs a note. The decision sticks while the record is unchanged."""
    return await _act(request, user, context, "ignore", body)
