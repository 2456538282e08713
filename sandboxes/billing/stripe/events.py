"""The Stripe sandbox's events: one per change of an invoice, payment intent, charge or credit
note, listed by ``GET /v1/events`` and sent as signed webhooks.

Like Stripe's, an event holds a snapshot of its object as it was when the event happened
(``data.object``) and, for updates, the fields it changed (``data.previous_attributes``); a
reader that wants the current state fetches the object. ``GET /v1/events`` filters by
``created[gt|gte|lt|lte]``, ``type`` (``*`` as a wildcard) and ``types[]``, newest first.
Webhooks are signed as Stripe signs them: ``Stripe-Signature: t=<unix seconds>,v1=<hex>``, the
HMAC-SHA256 of ``"<t>.<raw body>"`` under the endpoint's secret, one ``v1`` per secret.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sandboxes.billing.rules import ApiError

if TYPE_CHECKING:
    from sandboxes.billing.stripe.store import StripeStore

API_VERSION = "2020-08-27"
_BOUNDS = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}


def emit_event(
    state: StripeStore,
    event_type: str,
    stripe_object: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an event about ``stripe_object`` as it is now; returns the event."""
    data: dict[str, Any] = {"object": json.loads(json.dumps(stripe_object))}
    if previous is not None:
        data["previous_attributes"] = dict(previous)
    event_id = state.new_id("events")
    event: dict[str, Any] = {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": state.tick(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    state.rows["events"][event_id] = event
    return event


def _created_bound(created: Any) -> list[tuple[str, int]]:
    if created is None:
        return []
    bounds = created if isinstance(created, dict) else {"gte": created, "lte": created}
    checked = []
    for name, value in bounds.items():
        if name not in _BOUNDS or not str(value).isdigit():
            raise ApiError(400, "parameter_invalid", f"created[{name}]", "Invalid created bound")
        checked.append((name, int(value)))
    return checked


def filter_listed(
    collection: str, rows: list[dict[str, Any]], query: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rows a list's ``created``, ``status``, ``type`` and ``types[]`` filters keep."""
    bounds = _created_bound(query.get("created"))
    kept = [r for r in rows if all(_BOUNDS[n](int(r["created"]), v) for n, v in bounds)]
    if collection == "invoices" and "status" in query:
        kept = [row for row in kept if row.get("status") == query["status"]]
    if collection != "events":
        return kept
    types = query.get("types")
    if types is not None:
        if not isinstance(types, list) or len(types) > 20:
            raise ApiError(400, "parameter_invalid", "types", "types: up to 20 event names")
        kept = [row for row in kept if row.get("type") in types]
    if "type" in query:
        kept = [row for row in kept if fnmatchcase(str(row["type"]), str(query["type"]))]
    return kept


def signature_header(body: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """``t=<timestamp>,v1=<hmac>`` with one ``v1`` per secret (as during a secret's rotation)."""
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    for secret in secrets:
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        parts.append(f"v1={digest}")
    return ",".join(parts)


@dataclass(frozen=True)
class WebhookAnswer:
    """What the receiving endpoint answered."""

    status: int
    body: bytes


def send_webhook(
    url: str,
    event: Mapping[str, Any],
    secrets: str | Sequence[str],
    *,
    timestamp: int | None = None,
    timeout: float = 10.0,
) -> WebhookAnswer:
    """POST ``event`` to ``url`` signed with ``secrets``, now or at ``timestamp``."""
    body = json.dumps(event).encode()
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature_header(body, keys, stamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    target = urlsplit(url)
    if target.scheme != "http" or target.hostname is None:
        raise ValueError(f"webhooks go to a plain http loopback URL, not {url!r}")
    connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=timeout)
    try:
        connection.request("POST", target.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        return WebhookAnswer(response.status, response.read())
    finally:
        connection.close()
