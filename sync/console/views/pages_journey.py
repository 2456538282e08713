"""The journey page: a record found by any id, with its ids, payloads and history in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from sync.console.auth import ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.console.views.pages_values import NO_NUL, json_text, source_record_url
from sync.store.audit import AuditEntry
from sync.store.journey import Journey, SystemRecord, find_journeys
from sync.store.journey_history import JourneyEvent

router = APIRouter()


@dataclass(frozen=True)
class SentPayload:
    """What revbridge last wrote to one target, as indented JSON."""

    system: str
    at: datetime | None
    run_id: int | None
    payload_json: str


@dataclass(frozen=True)
class JourneyView:
    """One journey as the page shows it."""

    entity: str
    source_system: str
    source_id: str
    source_link: str | None
    canonical_id: str | None
    is_deleted: bool
    canonical_json: str | None
    ids: list[SystemRecord]
    sent: list[SentPayload]
    events: list[JourneyEvent]
    actions: list[AuditEntry]


def journey_view(journey: Journey, source_link: str | None) -> JourneyView:
    """The page's form of ``journey``: payloads as text, newest history last."""
    canonical = journey.canonical
    return JourneyView(
        entity=journey.entity,
        source_system=journey.source_system,
        source_id=journey.source_id,
        source_link=source_link,
        canonical_id=journey.canonical_id,
        is_deleted=canonical.is_deleted if canonical else False,
        canonical_json=json_text(canonical.payload) if canonical else None,
        ids=journey.systems,
        sent=[
            SentPayload(
                entry.system,
                entry.last_written_at,
                entry.run_id,
                json_text(entry.last_written_payload),
            )
            for entry in journey.systems
            if entry.last_written_payload is not None
        ],
        events=journey.events,
        actions=journey.actions,
    )


@router.get("/journey", response_class=HTMLResponse)
def journey_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    record_id: str = Query(default="", alias="id", max_length=255, pattern=NO_NUL),
) -> HTMLResponse:
    """Search by a Salesforce Id, a billing id, a NetSuite internalId or a canonical id."""
    wanted = record_id.strip()
    journeys: list[Journey] = []
    if wanted:
        with context.store.engine.connect() as connection:
            journeys = find_journeys(connection, wanted)
    views = [
        journey_view(
            journey,
            source_record_url(context.settings, journey.source_system, journey.source_id),
        )
        for journey in journeys
    ]
    return render(request, "pages/journey.html", {"query": wanted, "journeys": views})
