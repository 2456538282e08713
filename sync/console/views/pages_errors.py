"""The error-queue pages: filter, sort and page through entries, act on many, open one.

Filters and paging answer htmx with the results fragment alone (no full reload) and a plain
browser with the whole page, at the same URL, so every view can be bookmarked and shared.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from mappings.canonical import ENTITIES
from sync.console.auth import SupportUser, ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.console.schemas import MAX_ID
from sync.console.views.pages_error_actions import ErrorAction, act_on_errors, action_problem
from sync.console.views.pages_error_queries import (
    KNOWN_CLASSES,
    SYSTEMS,
    QueueView,
    error_queue_page,
    filter_choices,
    queue_view,
)
from sync.console.views.pages_values import json_text, source_record_url
from sync.store.error_details import error_detail

router = APIRouter()

View = Annotated[QueueView, Depends(queue_view)]


@router.get("/errors", response_class=HTMLResponse)
def errors_page(request: Request, user: ViewerUser, context: Context, view: View) -> HTMLResponse:
    """The queue, filtered and paged; htmx gets the results fragment alone."""
    with context.store.engine.connect() as connection:
        page = error_queue_page(connection, view, context.clock())
    choices = filter_choices(list(ENTITIES), list(SYSTEMS), list(KNOWN_CLASSES))
    values = {"page": page, "filters": view, "choices": choices, "can_act": user.may("support")}
    if request.headers.get("hx-request"):
        return render(request, "pages/_error_results.html", values)
    return render(request, "pages/errors.html", values)


@router.get("/errors/{entry_id}", response_class=HTMLResponse)
def error_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    entry_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> HTMLResponse:
    """One entry: reason, payload as JSON, attempts, and a link to the record in its source."""
    with context.store.engine.connect() as connection:
        entry = error_detail(connection, entry_id)
    if entry is None:
        page = {"title": "Not found", "message": f"There is no error-queue entry {entry_id}."}
        return render(request, "error.html", page, 404)
    row = entry.entry
    values = {
        "entry": row,
        "attempts": entry.attempts,
        "history": entry.actions,
        "payload_json": json_text(row.payload) if row.payload is not None else None,
        "source_link": source_record_url(context.settings, row.source_system, row.source_id),
        "can_act": user.may("support"),
    }
    return render(request, "pages/error_detail.html", values)


def _ids(values: list[str]) -> tuple[int, ...] | None:
    try:
        return tuple(dict.fromkeys(int(value) for value in values))
    except ValueError:
        return None


@router.post("/errors/actions", response_class=HTMLResponse)
async def act_on_entries(request: Request, user: SupportUser, context: Context) -> HTMLResponse:
    """Retry, resolve or ignore the selected entries; resolve and ignore need a note."""
    form = await request.form()
    ids = _ids([value for value in form.getlist("ids") if isinstance(value, str)])
    note = str(form.get("note") or "").strip()
    wanted = ErrorAction(user.name, str(form.get("action") or ""), ids or (), note or None)
    problem = "the selection names no entry" if ids is None else action_problem(wanted)
    back = {"back_url": "/errors", "back_label": "Back to the error queue"}
    if problem is not None:
        lines = [f"Nothing was done: {problem}."]
        page = {"heading": "Error queue", "lines": lines, "problem": True, **back}
        return render(request, "pages/action_result.html", page, 400)
    outcome = await act_on_errors(context, wanted)
    heading = f"{wanted.action.capitalize()} of {len(wanted.ids)} entries"
    page = {"heading": heading, "lines": outcome.lines, "problem": outcome.problem, **back}
    return render(request, "pages/action_result.html", page, 400 if outcome.problem else 200)
