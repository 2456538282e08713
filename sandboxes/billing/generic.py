"""The billing sandbox's state and its generic JSON API; ``/stripe`` and ``/oauth`` routed on.

Every collection of ``billing_collections.COLLECTIONS`` (customers, products, orders, invoices,
...) is upserted by revbridge's external id (``PUT /v1/{collection}/{external_id}``), up to 100
in one call by ``POST /v1/{collection}/batch`` (:mod:`sandboxes.billing.batch`), and
listed with keyset paging ordered by ``(updated, id)``. ``updated_after`` is inclusive, so a
reader never loses a record that shares the cursor's timestamp; given together with
``starting_after`` the pair is a keyset ``(updated, id)`` to resume strictly after, which stays
correct when that record changes between pages. Errors follow Stripe's shape:
``{"error": {"type", "code", "param", "message"}}``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from sandboxes.billing.batch import batch_items, error_detail, upsert_each
from sandboxes.billing.collections import COLLECTIONS, SCHEMAS
from sandboxes.billing.deletes import check_deletable, deleted_reply
from sandboxes.billing.faults import FaultPlan, fault_body
from sandboxes.billing.lifecycle import (
    COMPUTED,
    check_order,
    check_quote,
    check_subscription,
    item_of,
)
from sandboxes.billing.oauth import SandboxCredentials
from sandboxes.billing.rules import ApiError, check_fields
from sandboxes.billing.stripe.api import StripeState
from sandboxes.packed import PackedRecords, pack, unpack

_EPOCH = datetime(2026, 1, 5, 10, 0, 0)
_ID_PREFIXES = {name: collection.id_prefix for name, collection in COLLECTIONS.items()}
_OBJECT_NAMES = {name: collection.object_name for name, collection in COLLECTIONS.items()}
_SERVER_FIELDS = ("id", "object", "external_id", "created", "updated", *COMPUTED)
_MAX_LIMIT = 1000


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, JSON body and extra headers."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0  # a slow answer: sent this long after the request was handled


def _error_reply(error: ApiError) -> Reply:
    return Reply(error.status, {"error": error_detail(error)})


class BillingState:
    """The sandbox's data and behaviour, independent of HTTP so it is easy to reason about."""

    def __init__(self, api_key: str) -> None:
        self.credentials = SandboxCredentials(api_key)
        self.faults = FaultPlan()
        self.lock = threading.Lock()
        self.reset()

    @property
    def api_key(self) -> str:
        """The one API key the sandbox accepts."""
        return self.credentials.api_key

    def reset(self) -> None:
        """Forget every resource, counter, fault and idempotency key."""
        self.calls = 0
        self.writes: Counter[tuple[str, str]] = Counter()
        self.faults.reset()
        self.credentials.reset()
        self.stripe = StripeState()
        # Packed: rows are replaced on every write, never edited in place.
        self._rows: dict[str, PackedRecords[str]] = {name: PackedRecords() for name in SCHEMAS}
        self._external_by_id: dict[str, str] = {}
        # A subscription's billing id -> the external ids of the changes that revise it.
        self._changes: dict[str, set[str]] = {}
        self._next_id = Counter[str]()
        self._ticks = 0
        # key -> digest of the request, status, packed body: replayable at a fraction of the size.
        self._idempotent: dict[str, tuple[str, int, bytes]] = {}
        # external id -> the reason the API gives for refusing it (a record-level rejection).
        self.refused: dict[str, str] = {}

    def exists(self, collection: str, resource_id: str) -> bool:
        """True when ``resource_id`` is a billing id in ``collection``."""
        external_id = self._external_by_id.get(resource_id)
        return external_id is not None and external_id in self._rows[collection]

    def resources(self, collection: str) -> list[dict[str, Any]]:
        """Copies of the stored resources in ``(updated, id)`` order."""
        return [dict(row) for row in self._ordered(collection)]

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Reply | None:
        """Answer one request; ``None`` means drop the connection without answering."""
        with self.lock:
            self.calls += 1
            fault = self.faults.next_fault(method, target)
            if fault is not None and fault.status is not None:
                return Reply(fault.status, fault.body or fault_body(fault.status), fault.headers)
            try:
                reply = self._route(method, target, headers, body)
            except ApiError as error:
                reply = _error_reply(error)
            if fault is not None and fault.delay_seconds:
                return replace(reply, delay_seconds=fault.delay_seconds)
            return None if fault is not None else reply

    def upsert(self, collection: str, external_id: str, body: Any) -> Reply:
        """Validate and create or replace one resource by external id."""
        if external_id in self.refused:
            raise ApiError(400, "record_refused", "", self.refused[external_id])
        check_fields(body, SCHEMAS[collection], self.exists)
        if body.get("external_id", external_id) != external_id:
            raise ApiError(400, "parameter_invalid", "external_id", "differs from the URL")
        self._check_lifecycle(collection, external_id, body)
        content = {key: value for key, value in body.items() if key != "external_id"}
        stored = self._rows[collection].get(external_id)
        if stored is None:
            return self._refreshed(collection, self._create(collection, external_id, content))
        if {k: v for k, v in stored.items() if k not in _SERVER_FIELDS} == content:
            self.writes[(collection, "unchanged")] += 1
            return Reply(200, dict(stored))
        kept = {name: stored[name] for name in _SERVER_FIELDS if name in stored}
        row = {**kept, **content, "updated": self._tick()}
        self._rows[collection][external_id] = row
        self.writes[(collection, "updated")] += 1
        return self._refreshed(collection, Reply(200, dict(row)))

    def _check_lifecycle(self, collection: str, external_id: str, body: dict[str, Any]) -> None:
        if collection == "orders":
            check_order(body)
        if collection == "quotes":
            check_quote(body)
        if collection != "subscriptions":
            return
        revised = body.get("revises")
        rows = self._rows[collection]
        original = None if revised is None else rows[self._external_by_id[revised]]
        stored = self._rows[collection].get(external_id)
        if stored is not None and stored.get("revises") not in (None, revised):
            raise ApiError(400, "parameter_invalid", "revises", "a change cannot move")
        check_subscription(body, original)

    def _changes_of(self, original_id: str) -> list[dict[str, Any]]:
        rows = self._rows["subscriptions"]
        return [rows[key] for key in sorted(self._changes.get(original_id, ()))]

    def _refreshed(self, collection: str, reply: Reply) -> Reply:
        """Rebuild the item of the subscription a write touched (itself, or what it revises)."""
        if collection != "subscriptions":
            return reply
        revised = reply.body.get("revises")
        if revised is None:
            return Reply(reply.status, self._rebuild(str(reply.body["external_id"]), bump=False))
        self._changes.setdefault(revised, set()).add(str(reply.body["external_id"]))
        self._rebuild(self._external_by_id[revised], bump=True)
        return reply

    def _rebuild(self, key: str, *, bump: bool) -> dict[str, Any]:
        """Store the original's item as its changes make it; a change is a change of it."""
        rows = self._rows["subscriptions"]
        original = rows[key]
        items = [item_of(original, self._changes_of(original["id"]))]
        if original.get("items") != items:
            later = {"updated": self._tick()} if bump else {}
            rows[key] = original = {**original, "items": items, **later}
        return dict(original)

    def _create(self, collection: str, external_id: str, content: dict[str, Any]) -> Reply:
        self._next_id[collection] += 1
        resource_id = f"{_ID_PREFIXES[collection]}_{self._next_id[collection]:08d}"
        now = self._tick()
        row = {
            "id": resource_id,
            "object": _OBJECT_NAMES[collection],
            "external_id": external_id,
            "created": now,
            "updated": now,
            **content,
        }
        self._rows[collection][external_id] = row
        self._external_by_id[resource_id] = external_id
        self.writes[(collection, "created")] += 1
        return Reply(201, dict(row))

    def _tick(self) -> str:
        # A logical clock: every change gets a distinct, strictly later timestamp.
        self._ticks += 1
        return (_EPOCH + timedelta(seconds=self._ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _ordered(self, collection: str) -> list[dict[str, Any]]:
        return sorted(self._rows[collection].values(), key=lambda row: (row["updated"], row["id"]))

    def _route(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        split = urlsplit(target)
        if split.path == "/oauth/token" and method == "POST":
            return Reply(200, self.credentials.issue_token(headers, body))
        if split.path.startswith("/stripe/"):
            self.credentials.authenticate(headers)
            path = split.path.removeprefix("/stripe")
            status, answer, extra = self.stripe.handle(method, path, split.query, headers, body)
            return Reply(status, answer, extra)
        return self._dispatch(method, target, headers, body)

    def _dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        split = urlsplit(target)
        parts = [unquote(part) for part in split.path.strip("/").split("/")]
        if len(parts) not in (2, 3) or parts[0] != "v1" or parts[1] not in SCHEMAS:
            raise ApiError(404, "resource_missing", "", f"unrecognised request URL {split.path}")
        self.credentials.authenticate(headers)
        collection = parts[1]
        if method == "GET" and len(parts) == 2:
            return self._list(collection, parse_qs(split.query))
        if method == "GET":
            return self._get(collection, parts[2])
        if method == "PUT" and len(parts) == 3:
            key = headers.get("Idempotency-Key")
            return self._idempotent_upsert(collection, parts[2], body, key)
        if method == "DELETE" and len(parts) == 3:
            return self.delete(collection, parts[2])
        if method == "POST" and len(parts) == 3 and parts[2] == "batch":
            return self._batch_upsert(collection, body, headers.get("Idempotency-Key"))
        raise ApiError(405, "method_not_allowed", "", f"{method} {split.path} is not supported")

    def _idempotent_upsert(
        self, collection: str, external_id: str, body: bytes, key: str | None
    ) -> Reply:
        parsed = _json_body(body)
        fingerprint = json.dumps([collection, external_id, parsed], sort_keys=True)
        return self._once(key, fingerprint, lambda: self.upsert(collection, external_id, parsed))

    def _batch_upsert(self, collection: str, body: bytes, key: str | None) -> Reply:
        """Upsert each record of a batch; a retried batch (same key) replays the first answer."""
        items = batch_items(_json_body(body))
        fingerprint = json.dumps([collection, "batch", items], sort_keys=True)

        def run() -> Reply:
            results = upsert_each(collection, items, self.upsert, self.writes)
            return Reply(200, {"object": "list", "data": results})

        return self._once(key, fingerprint, run)

    def _once(self, key: str | None, fingerprint: str, run: Callable[[], Reply]) -> Reply:
        digest = hashlib.sha256(fingerprint.encode()).hexdigest()
        if key is not None and key in self._idempotent:
            seen, status, body = self._idempotent[key]
            if seen != digest:
                message = "this Idempotency-Key was used with a different request"
                raise ApiError(400, "idempotency_error", "", message, "idempotency_error")
            return Reply(status, unpack(body), {"Idempotent-Replayed": "true"})
        reply = run()
        if key is not None:
            # Like Stripe, only requests that executed are replayed; rejected ones may be resent.
            self._idempotent[key] = (digest, reply.status, pack(reply.body))
        return reply

    def delete(self, collection: str, external_id: str) -> Reply:
        """Delete one resource by external id; 404 when there is none, 400 while still in use."""
        row = self._rows[collection].get(external_id)
        if row is None:
            raise ApiError(404, "resource_missing", "external_id", f"no such {collection[:-1]}")
        check_deletable(self._rows, collection, row)
        if collection == "subscriptions" and self._changes.get(row["id"]):
            message = f"subscription {row['id']} still has changes; delete those first"
            raise ApiError(400, "resource_in_use", "", message)
        del self._rows[collection][external_id]
        self._external_by_id.pop(row["id"], None)
        if collection == "subscriptions" and row.get("revises"):
            self._changes[row["revises"]].discard(external_id)
            self._rebuild(self._external_by_id[row["revises"]], bump=True)
        self.writes[(collection, "deleted")] += 1
        return Reply(200, deleted_reply(row))

    def _get(self, collection: str, external_id: str) -> Reply:
        row = self._rows[collection].get(external_id)
        if row is None:
            raise ApiError(404, "resource_missing", "external_id", f"no such {collection[:-1]}")
        return Reply(200, dict(row))

    def _list(self, collection: str, query: dict[str, list[str]]) -> Reply:
        limit = _limit(query)
        rows = self._ordered(collection)
        updated_after = _timestamp(query, "updated_after")
        if updated_after is not None:
            rows = [row for row in rows if _parse_time(row["updated"]) >= updated_after]
        starting_after = query.get("starting_after", [None])[0]
        if starting_after is not None:
            start = self._start_key(collection, starting_after, updated_after)
            rows = [row for row in rows if (_parse_time(row["updated"]), row["id"]) > start]
        offset = _offset(query, limit)
        page = [dict(row) for row in rows[offset : offset + limit]]
        has_more = len(rows) > offset + limit
        body: dict[str, Any] = {"object": "list", "data": page, "has_more": has_more}
        if not has_more:
            return Reply(200, body)
        # The other paging styles a generic profile can use: a next-page token and a Link.
        body["next_page_token"] = str(offset + limit)
        following = [
            (k, v) for k, vs in query.items() if k not in ("page", "page_token") for v in vs
        ] + [("page_token", str(offset + limit))]
        link = f'</v1/{collection}?{urlencode(following)}>; rel="next"'
        return Reply(200, body, {"Link": link})

    def _start_key(
        self, collection: str, resource_id: str, updated_after: datetime | None
    ) -> tuple[datetime, str]:
        if updated_after is not None:
            return (updated_after, resource_id)
        if not self.exists(collection, resource_id):
            raise ApiError(400, "resource_missing", "starting_after", "no such object")
        row = self._rows[collection][self._external_by_id[resource_id]]
        return (_parse_time(row["updated"]), resource_id)


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        raise ApiError(400, "parameter_invalid", "", "the body is not JSON") from None


def _limit(query: dict[str, list[str]]) -> int:
    raw = query.get("limit", ["10"])[0]
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_LIMIT:
        raise ApiError(400, "parameter_invalid", "limit", f"limit must be 1 to {_MAX_LIMIT}")
    return int(raw)


def _offset(query: dict[str, list[str]], limit: int) -> int:
    """Where a page starts: ``page`` (1-based page number) or an opaque ``page_token``."""
    page, token = query.get("page", [None])[0], query.get("page_token", [None])[0]
    if page is not None:
        if not page.isdigit() or int(page) < 1:
            raise ApiError(400, "parameter_invalid", "page", "page must be 1 or more")
        return (int(page) - 1) * limit
    if token is not None:
        if not token.isdigit():
            raise ApiError(400, "parameter_invalid", "page_token", "no such page token")
        return int(token)
    return 0


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def _timestamp(query: dict[str, list[str]], name: str) -> datetime | None:
    raw = query.get(name, [None])[0]
    if raw is None:
        return None
    try:
        return _parse_time(raw)
    except ValueError:
        raise ApiError(400, "parameter_invalid", name, "not an ISO 8601 timestamp") from None
