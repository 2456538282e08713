"""A loopback billing REST API (generic JSON profile) for tests, the demo and benchmarks.

Collections ``customers``, ``products`` and ``orders`` are upserted by revbridge's external id
(``PUT /v1/{collection}/{external_id}``) and listed with keyset paging ordered by
``(updated, id)``. ``updated_after`` is inclusive, so a reader never loses a record that shares
the cursor's timestamp; given together with ``starting_after`` the pair is a keyset
``(updated, id)`` to resume strictly after, which stays correct when that record changes
between pages. Errors follow Stripe's shape: ``{"error": {"type", "code", "param", "message"}}``.
"""

from __future__ import annotations

import hmac
import json
import ssl
import threading
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from connectors.sandbox.billing_rules import SCHEMAS, ApiError, check_fields
from connectors.sandbox.server import LoopbackServer, SandboxRequestHandler

_EPOCH = datetime(2026, 1, 5, 10, 0, 0)
_ID_PREFIXES = {"customers": "cus", "products": "prod", "orders": "ord"}
_OBJECT_NAMES = {"customers": "customer", "products": "product", "orders": "order"}
_SERVER_FIELDS = ("id", "object", "external_id", "created", "updated")
_MAX_LIMIT = 1000


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, JSON body and extra headers."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    status: int | None  # None: drop the connection after processing, without answering
    headers: Mapping[str, str]
    body: Mapping[str, Any] | None = None


def _error_reply(error: ApiError) -> Reply:
    detail = {"type": error.kind, "code": error.code, "message": error.message}
    if error.param:
        detail["param"] = error.param
    return Reply(error.status, {"error": detail})


_FAULT_TYPES = {429: "rate_limit_error", 401: "authentication_error"}


def _fault_body(status: int) -> dict[str, Any]:
    kind = _FAULT_TYPES.get(status, "api_error")
    return {"error": {"type": kind, "message": f"injected fault: HTTP {status}"}}


class BillingState:
    """The sandbox's data and behaviour, independent of HTTP so it is easy to reason about."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every resource, counter, fault and idempotency key."""
        self.calls = 0
        self.writes: Counter[tuple[str, str]] = Counter()
        self.faults: deque[_Fault] = deque()
        self._rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SCHEMAS}
        self._external_by_id: dict[str, str] = {}
        self._next_id = Counter[str]()
        self._ticks = 0
        self._idempotent: dict[str, tuple[str, Reply]] = {}

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
            fault = self.faults.popleft() if self.faults else None
            if fault is not None and fault.status is not None:
                return Reply(fault.status, fault.body or _fault_body(fault.status), fault.headers)
            try:
                reply = self._dispatch(method, target, headers, body)
            except ApiError as error:
                reply = _error_reply(error)
            return None if fault is not None else reply

    def upsert(self, collection: str, external_id: str, body: Any) -> Reply:
        """Validate and create or replace one resource by external id."""
        check_fields(body, SCHEMAS[collection], self.exists)
        if body.get("external_id", external_id) != external_id:
            raise ApiError(400, "parameter_invalid", "external_id", "differs from the URL")
        content = {key: value for key, value in body.items() if key != "external_id"}
        stored = self._rows[collection].get(external_id)
        if stored is None:
            return self._create(collection, external_id, content)
        if {k: v for k, v in stored.items() if k not in _SERVER_FIELDS} == content:
            self.writes[(collection, "unchanged")] += 1
            return Reply(200, dict(stored))
        kept = {name: stored[name] for name in _SERVER_FIELDS}
        self._rows[collection][external_id] = {**kept, **content, "updated": self._tick()}
        self.writes[(collection, "updated")] += 1
        return Reply(200, dict(self._rows[collection][external_id]))

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

    def _dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        split = urlsplit(target)
        parts = [unquote(part) for part in split.path.strip("/").split("/")]
        if len(parts) not in (2, 3) or parts[0] != "v1" or parts[1] not in SCHEMAS:
            raise ApiError(404, "resource_missing", "", f"unrecognised request URL {split.path}")
        self._authenticate(headers)
        collection = parts[1]
        if method == "GET" and len(parts) == 2:
            return self._list(collection, parse_qs(split.query))
        if method == "GET":
            return self._get(collection, parts[2])
        if method == "PUT" and len(parts) == 3:
            key = headers.get("Idempotency-Key")
            return self._idempotent_upsert(collection, parts[2], body, key)
        raise ApiError(405, "method_not_allowed", "", f"{method} {split.path} is not supported")

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        supplied = headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), self.api_key.encode()):
            raise ApiError(
                401, "invalid_api_key", "", "invalid API key provided", "authentication_error"
            )

    def _idempotent_upsert(
        self, collection: str, external_id: str, body: bytes, key: str | None
    ) -> Reply:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            raise ApiError(400, "parameter_invalid", "", "the body is not JSON") from None
        fingerprint = json.dumps([collection, external_id, parsed], sort_keys=True)
        if key is not None and key in self._idempotent:
            seen, reply = self._idempotent[key]
            if seen != fingerprint:
                message = "this Idempotency-Key was used with a different request"
                raise ApiError(400, "idempotency_error", "", message, "idempotency_error")
            return Reply(reply.status, reply.body, {"Idempotent-Replayed": "true"})
        reply = self.upsert(collection, external_id, parsed)
        if key is not None:
            # Like Stripe, only requests that executed are replayed; rejected ones may be resent.
            self._idempotent[key] = (fingerprint, reply)
        return reply

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
        page = [dict(row) for row in rows[:limit]]
        return Reply(200, {"object": "list", "data": page, "has_more": len(rows) > limit})

    def _start_key(
        self, collection: str, resource_id: str, updated_after: datetime | None
    ) -> tuple[datetime, str]:
        if updated_after is not None:
            return (updated_after, resource_id)
        if not self.exists(collection, resource_id):
            raise ApiError(400, "resource_missing", "starting_after", "no such object")
        row = self._rows[collection][self._external_by_id[resource_id]]
        return (_parse_time(row["updated"]), resource_id)


def _limit(query: dict[str, list[str]]) -> int:
    raw = query.get("limit", ["10"])[0]
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_LIMIT:
        raise ApiError(400, "parameter_invalid", "limit", f"limit must be 1 to {_MAX_LIMIT}")
    return int(raw)


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


class _BillingHandler(SandboxRequestHandler):
    def _serve(self) -> None:
        body = self.read_body()
        reply = self.state.handle(self.command, self.path, self.headers, body)
        if reply is None:
            self.close_connection = True
            return
        self.send_json(reply.status, reply.body, dict(reply.headers))

    def do_GET(self) -> None:
        """Read one resource or a list."""
        self._serve()

    def do_PUT(self) -> None:
        """Upsert one resource by external id."""
        self._serve()


class BillingSandbox:
    """The billing REST sandbox on a loopback port: ``with BillingSandbox() as billing: ...``."""

    def __init__(
        self,
        api_key: str = "sk_test_revbridge_sandbox",
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._state = BillingState(api_key)
        self._server = LoopbackServer(_BillingHandler, self._state, ssl_context=ssl_context)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:51234`` (``https`` with a context; paths: ``/v1``)."""
        return self._server.url

    @property
    def server(self) -> LoopbackServer:
        """The HTTP server, for request gates in fault tests."""
        return self._server

    @property
    def api_key(self) -> str:
        """The one key the sandbox accepts as ``Authorization: Bearer <key>``."""
        return self._state.api_key

    @property
    def calls(self) -> int:
        """HTTP requests received so far, faults and drops included."""
        return self._state.calls

    @property
    def writes(self) -> Counter[tuple[str, str]]:
        """Counts of ``(collection, "created" | "updated" | "unchanged")``."""
        with self._state.lock:
            return Counter(self._state.writes)

    def resources(self, collection: str) -> list[dict[str, Any]]:
        """The stored resources of ``collection``, ordered by ``(updated, id)``."""
        with self._state.lock:
            return self._state.resources(collection)

    def reset(self) -> None:
        """Back to empty, as if just started (lets tests share one server)."""
        with self._state.lock:
            self._state.reset()

    def seed(self, collection: str, bodies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Upsert bodies without HTTP (each needs ``external_id``); returns the stored resources."""
        with self._state.lock:
            replies = [
                self._state.upsert(collection, str(b["external_id"]), dict(b)) for b in bodies
            ]
        return [dict(reply.body) for reply in replies]

    def inject_fault(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        *,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (e.g. 429 + Retry-After, 503)."""
        fault = _Fault(status, dict(headers or {}), body)
        with self._state.lock:
            self._state.faults.extend(fault for _ in range(times))

    def inject_disconnect(self, times: int = 1) -> None:
        """Process the next ``times`` requests, then close the connection without answering."""
        with self._state.lock:
            self._state.faults.extend(_Fault(None, {}) for _ in range(times))

    def start(self) -> BillingSandbox:
        """Start serving; returns self."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> BillingSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
