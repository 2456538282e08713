"""The conflicts pages: records held for a person, and one record's fields side by side.

Resolving takes the source for every field, the target for every field, or a choice per field;
the record is written to its target once every held field has one (the engine's
``resolve_conflicts``, as ``revbridge conflicts resolve`` does), and the audit names who chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from sync.console.auth import SupportUser, ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.console.views.pages_conflict_actions import ResolveRequest, resolve_held_record
from sync.console.views.pages_values import NO_NUL, value_text
from sync.store.conflict_fields import HeldRecord, held_record, held_records

router = APIRouter()

PathText = Annotated[str, Path(max_length=255, pattern=NO_NUL)]
LIST_LIMIT = 200  # held records listed; the oldest wait at the end


@dataclass(frozen=True)
class HeldLine:
    """A held record in the list, with the link to its page."""

    record: HeldRecord
    url: str


@dataclass(frozen=True)
class FieldChoice:
    """One held field: its three values as text, and the side chosen so far."""

    id: int
    field: str
    source_text: str
    target_text: str
    base_text: str
    resolution: str | None


def conflict_url(target_system: str, canonical_id: str) -> str:
    """The page of one held record (both parts quoted: they are stored values)."""
    return f"/conflicts/{quote(target_system, safe='')}/{quote(canonical_id, safe='')}"


def field_choices(record: HeldRecord | None) -> list[FieldChoice]:
    """The held fields of one record, their values as text."""
    if record is None:
        return []
    return [
        FieldChoice(
            id=field.conflict_id,
            field=field.field,
            source_text=value_text(field.source_value),
            target_text=value_text(field.target_value),
            base_text=value_text(field.last_sent_value),
            resolution=field.chosen,
        )
        for field in record.fields
    ]


@router.get("/conflicts", response_class=HTMLResponse)
def conflicts_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    entity: str | None = Query(default=None, max_length=40, pattern=NO_NUL),
) -> HTMLResponse:
    """Every record held for a person."""
    with context.store.engine.connect() as connection:
        held = held_records(connection, entity=entity or None, limit=LIST_LIMIT)
    lines = [
        HeldLine(record, conflict_url(record.target_system, record.canonical_id)) for record in held
    ]
    return render(request, "pages/conflicts.html", {"held_records": lines})


def _held(context: Context, target: str, canonical_id: str) -> HeldRecord | None:
    with context.store.engine.connect() as connection:
        return held_record(connection, target, canonical_id)


def _detail(
    record: HeldRecord | None, user_may_act: bool, target: str, canonical_id: str
) -> dict[str, object]:
    return {
        "canonical_id": canonical_id,
        "target_system": target,
        "entity": record.entity if record else "record",
        "source_system": record.source_system if record else None,
        "source_id": record.source_id if record else None,
        "fields": field_choices(record),
        "can_act": user_may_act,
        "action_url": conflict_url(target, canonical_id),
    }


@router.get("/conflicts/{target}/{canonical_id}", response_class=HTMLResponse)
def conflict_page(
    request: Request, user: ViewerUser, context: Context, target: PathText, canonical_id: PathText
) -> HTMLResponse:
    """One held record: source, target and last-sent values side by side, per field."""
    record = _held(context, target, canonical_id)
    page = _detail(record, user.may("support"), target, canonical_id)
    return render(request, "pages/conflict_detail.html", page)


def _choices(form: FormData, take: str, ids: list[int]) -> dict[int, str] | str:
    """Each held row's chosen side, or why the form does not say."""
    if take in ("source", "target"):
        return dict.fromkeys(ids, take)
    if take != "per-field":
        return "choose how to resolve: per field, all source or all target"
    chosen = {row_id: form.get(f"take-{row_id}") for row_id in ids}
    if any(side not in ("source", "target") for side in chosen.values()):
        return "choose source or target for every field, then resolve"
    return {row_id: str(side) for row_id, side in chosen.items()}


@router.post("/conflicts/{target}/{canonical_id}", response_class=HTMLResponse)
async def resolve_conflict(
    request: Request,
    user: SupportUser,
    context: Context,
    target: PathText,
    canonical_id: PathText,
) -> Response:
    """Resolve one held record with the sides chosen in the form."""
    form = await request.form()
    note = str(form.get("note") or "").strip()
    record = _held(context, target, canonical_id)
    page = _detail(record, True, target, canonical_id)
    ids = [field.conflict_id for field in record.fields] if record else []
    choices = _choices(form, str(form.get("take") or ""), ids)
    if not ids or isinstance(choices, str):
        problem = choices if isinstance(choices, str) else "nothing is held for this record"
        return render(request, "pages/conflict_detail.html", {**page, "problem": problem}, 400)
    outcome = await resolve_held_record(
        context, ResolveRequest(user.name, target, canonical_id, choices, note or None)
    )
    return render(
        request,
        "pages/action_result.html",
        {
            "heading": f"Conflict on {canonical_id}",
            "lines": outcome.lines,
            "problem": outcome.problem,
            "back_url": "/conflicts",
            "back_label": "Back to the conflicts",
        },
        400 if outcome.problem else 200,
    )
