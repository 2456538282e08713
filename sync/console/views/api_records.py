"""``/api/journey`` and ``/api/conflicts``: a record by any id, and records held for a person."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from sync.console.auth import SupportUser, ViewerUser
from sync.console.context import Context
from sync.console.schemas import (
    ActionOut,
    ConflictResolveIn,
    HeldRecordOut,
    HeldRecordsOut,
    JourneyOut,
    JourneysOut,
)
from sync.console.views.api_errors import actor_kind
from sync.console.views.pages_conflict_actions import ResolveRequest, resolve_held_record
from sync.store.conflict_fields import held_record, held_records
from sync.store.journey import find_journeys

router = APIRouter(prefix="/api", tags=["records"])

_NO_NUL = r"^[^\x00]*$"
Name = Annotated[str | None, Query(max_length=80, pattern=_NO_NUL)]
RecordKey = Annotated[str, Path(min_length=1, max_length=255, pattern=_NO_NUL)]
_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Nothing held for this record"},
    422: {"description": "A parameter or body of the wrong type or shape"},
}


@router.get("/journey", response_model=JourneysOut, responses=_REFUSALS)
def journey(
    _user: ViewerUser,
    context: Context,
    record_id: Annotated[str, Query(alias="id", min_length=1, max_length=255, pattern=_NO_NUL)],
) -> JourneysOut:
    """Every record known by ``id`` (a Salesforce Id, billing id, NetSuite internalId or
    canonical id) with its ids in each system, last payloads sent and history in time order."""
    with context.store.engine.connect() as connection:
        found = find_journeys(connection, record_id)
    return JourneysOut(items=[JourneyOut.model_validate(item) for item in found])


@router.get("/conflicts", response_model=HeldRecordsOut, responses=_REFUSALS)
def conflicts(
    _user: ViewerUser,
    context: Context,
    entity: Name = None,
    system: Name = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HeldRecordsOut:
    """Records held for a person, most recently held first, each field's three values."""
    with context.store.engine.connect() as connection:
        found = held_records(connection, entity=entity, target_system=system, limit=limit)
    return HeldRecordsOut(items=[HeldRecordOut.model_validate(item) for item in found])


@router.get(
    "/conflicts/{target_system}/{canonical_id}", response_model=HeldRecordOut, responses=_REFUSALS
)
def conflict(
    target_system: RecordKey, canonical_id: RecordKey, _user: ViewerUser, context: Context
) -> HeldRecordOut:
    """One held record: each differing field with its source, target and last-sent value."""
    with context.store.engine.connect() as connection:
        found = held_record(connection, target_system, canonical_id)
    if found is None:
        raise HTTPException(404, "nothing is held for this record")
    return HeldRecordOut.model_validate(found)


@router.post(
    "/conflicts/{target_system}/{canonical_id}/resolve",
    response_model=ActionOut,
    responses=_REFUSALS,
)
async def resolve_conflict(
    request: Request,
    target_system: RecordKey,
    canonical_id: RecordKey,
    user: SupportUser,
    context: Context,
    body: ConflictResolveIn,
) -> ActionOut:
    """Take the source or the target per field (conflict id -> side); written once all chosen."""
    try:
        choices: dict[int, str] = {int(key): str(side) for key, side in body.choices.items()}
    except ValueError:
        raise HTTPException(422, "choices are keyed by conflict id") from None
    with context.store.engine.connect() as connection:
        found = held_record(connection, target_system, canonical_id)
    if found is None:
        raise HTTPException(404, "nothing is held for this record")
    unknown = set(choices) - {field.conflict_id for field in found.fields}
    if unknown:
        raise HTTPException(422, f"conflicts {sorted(unknown)} are not held for this record")
    note = (body.note or "").strip() or None
    kind = actor_kind(request, context)
    wanted = ResolveRequest(user.name, target_system, canonical_id, choices, note, kind)
    outcome = await resolve_held_record(context, wanted)
    return ActionOut(lines=outcome.lines, problem=outcome.problem)
