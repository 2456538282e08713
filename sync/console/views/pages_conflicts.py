"""The conflicts pages: records held for a person, and one record's fields side by side.

Resolving takes the source for every field, the target for every field, or a choice per field;
the record is written to its target once every held field has one (the engine's
``resolve_conflicts``, as ``revbridge conflicts resolve`` does), and the audit names who chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from sync.console.auth import SupportUser, ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.console.views.pages_conflict_actions import ResolveRequest, resolve_held_record
from sync.console.views.pages_values import value_text
from sync.store.conflict_log import (
    ConflictFilter,
    ConflictRow,
    ConflictStatus,
    list_conflicts,
    open_for_record,
)

router = APIRouter()

# Open rows read for the list; a record has a few fields, so this covers hundreds of records.
LIST_LIMIT = 2000


@dataclass(frozen=True)
class HeldRecord:
    """A record held in one target, with the fields waiting for a choice."""

    canonical_id: str
    entity: str
    target_system: str
    source_system: str | None
    source_id: str | None
    fields: list[str]
    since: datetime
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


def held_records(rows: list[ConflictRow]) -> list[HeldRecord]:
    """Open rows grouped by record and target, oldest hold first."""
    grouped: dict[tuple[str, str], list[ConflictRow]] = {}
    for row in rows:
        grouped.setdefault((row.target_system, row.canonical_id), []).append(row)
    held = [
        HeldRecord(
            canonical_id=canonical_id,
            entity=fields[0].entity,
            target_system=system,
            source_system=fields[0].source_system,
            source_id=fields[0].source_id,
            fields=sorted(row.field for row in fields),
            since=min(row.created_at for row in fields),
            url=conflict_url(system, canonical_id),
        )
        for (system, canonical_id), fields in grouped.items()
    ]
    return sorted(held, key=lambda record: (record.since, record.canonical_id))


def field_choices(rows: list[ConflictRow]) -> list[FieldChoice]:
    """The held fields of one record, by field name."""
    return [
        FieldChoice(
            id=row.id,
            field=row.field,
            source_text=value_text(row.source_value),
            target_text=value_text(row.target_value),
            base_text=value_text(row.base_value),
            resolution=row.resolution,
        )
        for row in sorted(rows, key=lambda row: row.field)
    ]


@router.get("/conflicts", response_class=HTMLResponse)
def conflicts_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    entity: str | None = Query(default=None, max_length=40),
) -> HTMLResponse:
    """Every record held for a person."""
    chosen = ConflictFilter(status=ConflictStatus.OPEN, entity=entity or None)
    with context.store.engine.connect() as connection:
        rows = list_conflicts(connection, chosen, limit=LIST_LIMIT)
    return render(request, "pages/conflicts.html", {"held_records": held_records(rows)})


def _held(context: Context, target: str, canonical_id: str) -> list[ConflictRow]:
    with context.store.engine.connect() as connection:
        return open_for_record(connection, target, canonical_id)


def _detail(
    rows: list[ConflictRow], user_may_act: bool, target: str, canonical_id: str
) -> dict[str, object]:
    first = rows[0] if rows else None
    return {
        "canonical_id": canonical_id,
        "target_system": target,
        "entity": first.entity if first else "record",
        "source_system": first.source_system if first else None,
        "source_id": first.source_id if first else None,
        "fields": field_choices(rows),
        "can_act": user_may_act,
        "action_url": conflict_url(target, canonical_id),
    }


@router.get("/conflicts/{target}/{canonical_id}", response_class=HTMLResponse)
def conflict_page(
    request: Request, user: ViewerUser, context: Context, target: str, canonical_id: str
) -> HTMLResponse:
    """One held record: source, target and last-sent values side by side, per field."""
    rows = _held(context, target, canonical_id)
    page = _detail(rows, user.may("support"), target, canonical_id)
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
    request: Request, user: SupportUser, context: Context, target: str, canonical_id: str
) -> Response:
    """Resolve one held record with the sides chosen in the form."""
    form = await request.form()
    note = str(form.get("note") or "").strip()
    rows = _held(context, target, canonical_id)
    page = _detail(rows, True, target, canonical_id)
    ids = [row.id for row in rows]
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
