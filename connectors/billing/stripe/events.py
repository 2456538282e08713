"""Stripe's events, as the incremental reads of invoices, payments and credit notes use them.

``GET /v1/events`` lists events newest first, ``created[gte]`` bounds it and ``types[]``
(up to 20 names) filters it. An event's ``data.object`` is a snapshot of its object when the
event happened; revbridge uses it only to learn *which* objects changed, then fetches each one
as it is now, so events read twice, late or out of order all lead to the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.billing.http import ApiRequest, BillingHttpClient
from connectors.billing.json_profile import json_object
from connectors.billing.stripe.position import EventMark
from connectors.errors import AuthError

SYSTEM = "billing"
EVENTS_HINT = (
    "the billing reads (the receivables flow) follow events to learn of invoices paid, voided "
    "or refunded; give the key Events: Read (Stripe Dashboard > Developers > API keys > edit "
    "the restricted key), or use a key that has it"
)

_MAX_LIMIT = 100
_Names = Callable[[str, Mapping[str, Any]], Iterable[str]]


def _self(_type: str, stripe_object: Mapping[str, Any]) -> Iterable[str]:
    return [str(stripe_object["id"])] if stripe_object.get("id") else []


def _its(field: str) -> _Names:
    def named(_type: str, stripe_object: Mapping[str, Any]) -> Iterable[str]:
        value = stripe_object.get(field)
        if isinstance(value, Mapping):
            value = value.get("id")
        return [str(value)] if isinstance(value, str) and value else []

    return named


def _intent_charges(_type: str, intent: Mapping[str, Any]) -> Iterable[str]:
    # 2020-08-27 lists an intent's charges; later versions name only its latest one.
    charges = intent.get("charges")
    listed = charges.get("data") if isinstance(charges, Mapping) else None
    ids = [str(c["id"]) for c in listed or [] if isinstance(c, Mapping) and c.get("id")]
    return ids or _its("latest_charge")("", intent)


_INVOICE = (
    "created deleted finalized marked_uncollectible paid payment_action_required "
    "payment_failed payment_succeeded sent updated voided"
)
_CREDIT_NOTE = ("credit_note.created", "credit_note.updated", "credit_note.voided")
_CHARGE = "captured expired failed pending refunded succeeded updated refund.updated"

# Per readable collection: the event types that can change one of its objects, and how to find
# the object's id in the event's object.
WATCHED: Mapping[str, Mapping[str, _Names]] = {
    "invoices": {
        **{f"invoice.{name}": _self for name in _INVOICE.split()},
        "payment_intent.succeeded": _its("invoice"),
        "charge.refunded": _its("invoice"),
        **dict.fromkeys(_CREDIT_NOTE, _its("invoice")),
    },
    "payments": {
        **{f"charge.{name}": _self for name in _CHARGE.split()},
        "payment_intent.succeeded": _intent_charges,
        "invoice.paid": _its("charge"),
    },
    "credit_notes": dict.fromkeys(_CREDIT_NOTE, _self),
}
WATCHED = {**WATCHED, "charges": WATCHED["payments"]}


@dataclass(frozen=True)
class EventsRead:
    """What a listing found: the ids of objects changed, the newest event and the calls."""

    object_ids: list[str]
    newest: EventMark | None
    api_calls: int


def newest_event(client: BillingHttpClient, collection: str) -> tuple[EventMark | None, int]:
    """The newest event that concerns ``collection`` (None if there is none), and the calls."""
    params = [("limit", "1"), *_types(collection)]
    answer = json_object(client.send(ApiRequest("GET", "/v1/events", params=params)))
    data = list(answer.get("data") or [])
    return (_mark(data[0]) if data else None), 1


def probe_events(client: BillingHttpClient) -> None:
    """One ``GET /v1/events?limit=1``; raises AuthError saying what to do when the key may not
    read events (a restricted key without the Events read permission answers 403)."""
    try:
        client.send(ApiRequest("GET", "/v1/events", params=[("limit", "1")]))
    except AuthError:
        message = f"GET /v1/events refused: the API key may not read events; {EVENTS_HINT}"
        raise AuthError(message, system=SYSTEM) from None


def read_events(client: BillingHttpClient, collection: str, after: EventMark | None) -> EventsRead:
    """The objects of ``collection`` that events since ``after`` name (every retained event
    when None), each once, oldest change first."""
    params = [("limit", str(_MAX_LIMIT)), *_types(collection)]
    if after is not None:
        # Stripe's seconds don't order events within a second: re-read that second whole.
        params.append(("created[gte]", str(after.created)))
    events: list[Mapping[str, Any]] = []
    calls = 0
    while True:
        answer = json_object(client.send(ApiRequest("GET", "/v1/events", params=params)))
        calls += 1
        data = [event for event in answer.get("data") or [] if isinstance(event, Mapping)]
        events += data
        if not answer.get("has_more") or not data:
            break
        params = [
            *(p for p in params if p[0] != "starting_after"),
            ("starting_after", data[-1]["id"]),
        ]
    fresh = [e for e in events if after is None or str(e.get("id")) != after.event_id]
    newest = _mark(events[0]) if events else after
    return EventsRead(_named_ids(collection, reversed(fresh)), newest, calls)


def _named_ids(collection: str, events: Iterable[Mapping[str, Any]]) -> list[str]:
    names = WATCHED[collection]
    found: dict[str, None] = {}
    for event in events:
        named = names.get(str(event.get("type")))
        data = event.get("data")
        snapshot = data.get("object") if isinstance(data, Mapping) else None
        if named is not None and isinstance(snapshot, Mapping):
            found.update(dict.fromkeys(named(str(event["type"]), snapshot)))
    return list(found)


def _types(collection: str) -> list[tuple[str, str]]:
    return [("types[]", name) for name in sorted(WATCHED[collection])]


def _mark(event: Mapping[str, Any]) -> EventMark:
    return EventMark(int(event["created"]), str(event["id"]))
