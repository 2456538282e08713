"""The billing sandbox's Stripe-compatible API, mounted under ``/stripe`` beside the generic one.

Form-encoded bodies, Stripe's error object, ``Idempotency-Key`` replay with the same answer (and
``Idempotent-Replayed: true``; the same key with other parameters is a 400
``idempotency_error``), newest-first cursor lists with ``starting_after``, ``expand[]`` of
``data.customer``, ``/search`` on ``metadata['key']:'value'``, and ``/v1/events``
(:mod:`sandboxes.billing.stripe.events`). Search can be switched off
(``/v1/*/search`` answers 404, as on Stripe-compatible servers without the Search API) or made
to lag, as Stripe's does: an object shows in search results only ``search_lag_seconds`` after
it was created. Events can be refused with 403, as Stripe refuses a restricted key without
the Events read permission. Every request is logged (method, path, parameters,
``Stripe-Version``) so tests can hold it against Stripe's real OpenAPI spec.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from sandboxes.billing.rules import ApiError
from sandboxes.billing.stripe.events import filter_listed
from sandboxes.billing.stripe.form import parse_params, top_level_names
from sandboxes.billing.stripe.objects import OBJECT_NAMES, check_params
from sandboxes.billing.stripe.receivables import StripeReceivables
from sandboxes.billing.stripe.store import StripeStore
from sandboxes.billing.stripe.writes import StripeWrites

_SEARCH = re.compile(r"^metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'$")
# What Stripe deletes outright (spec3.json); prices, invoices (but drafts), subscriptions
# (cancelled, not deleted), payments and credit notes have no delete.
_DELETABLE = frozenset({"customers", "products", "invoiceitems"})
_SEARCHABLE = frozenset({"customers", "products", "prices", "subscriptions", "invoices"})
_EMBEDDED_LINES = 10
_READ_ONLY = frozenset({"invoices", "charges", "credit_notes", "payment_intents", "events"})


def _no_events_permission() -> ApiError:
    # Stripe's answer to a restricted key without the Events read permission.
    message = (
        "The provided key 'rk_test_*********sbox' does not have the required permissions for "
        "this endpoint on account 'acct_sandbox'. Having the 'rak_event_read' permission would "
        "allow this request to continue."
    )
    return ApiError(403, "", "", message)


@dataclass(frozen=True)
class StripeRequest:
    """One logged request: method, path (below ``/stripe``) and parameter names."""

    method: str
    path: str
    query_names: tuple[str, ...]
    form_names: tuple[str, ...]
    idempotency_key: str | None
    stripe_version: str | None = None
    form: tuple[tuple[str, str], ...] = ()

    def sent(self, name: str) -> str | None:
        """The value of form parameter ``name`` (the first, if sent twice)."""
        return next((value for key, value in self.form if key == name), None)


@dataclass
class StripeState(StripeStore):
    """The objects, plus the request log and idempotency results (guarded by the sandbox's lock)."""

    requests: list[StripeRequest] = field(default_factory=list)
    search_enabled: bool = True
    search_lag_seconds: float = 0.0
    events_enabled: bool = True
    clock: Callable[[], float] = time.monotonic
    _idempotent: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    _created_at: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.builder = StripeWrites(self)
        self.receivables = StripeReceivables(self)

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one request below ``/stripe``: status, JSON body, extra headers."""
        form = body.decode("utf-8", "replace")
        key = headers.get("Idempotency-Key")
        self.requests.append(
            StripeRequest(
                method,
                path,
                tuple(top_level_names(query)),
                tuple(top_level_names(form)),
                key,
                headers.get("Stripe-Version"),
                tuple(parse_qsl(form, keep_blank_values=True)),
            )
        )
        if method == "POST" and key is not None:
            return self._idempotent_post(path, form, key)
        return (*self._dispatch(method, path, parse_params(query), parse_params(form)), {})

    def _idempotent_post(
        self, path: str, form: str, key: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        fingerprint = json.dumps([path, sorted(parse_params(form).items())], default=str)
        if key in self._idempotent:
            seen, status, answer = self._idempotent[key]
            if seen != fingerprint:
                message = "Keys for idempotent requests can only be used with the same parameters"
                raise ApiError(400, "idempotency_key_in_use", "", message, "idempotency_error")
            return status, answer, {"Idempotent-Replayed": "true"}
        status, answer = self._dispatch("POST", path, {}, parse_params(form))
        # Like Stripe, only requests that executed are saved; a refused one may be resent.
        self._idempotent[key] = (fingerprint, status, answer)
        return status, answer, {}

    def _unrecognized(self, method: str, path: str) -> ApiError:
        return ApiError(404, "resource_missing", "", f"Unrecognized request URL ({method}: {path})")

    def _dispatch(  # noqa: PLR0911 - one return per route reads as a route table
        self, method: str, path: str, query: dict[str, Any], form: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if len(parts) < 2 or parts[0] != "v1" or parts[1] not in OBJECT_NAMES:
            raise self._unrecognized(method, path)
        collection, rest = parts[1], parts[2:]
        if collection == "events" and not self.events_enabled:
            raise _no_events_permission()
        if method == "GET" and not rest:
            return 200, self.list(collection, query)
        if method == "GET" and rest == ["search"]:
            if not self.search_enabled or collection not in _SEARCHABLE:
                raise self._unrecognized(method, path)
            return 200, self.search(collection, query)
        if method == "GET" and len(rest) == 2 and rest[1] == "lines" and collection == "invoices":
            return 200, self._invoice_lines(rest[0], query)
        if method == "GET" and len(rest) == 1:
            return 200, self._expanded(self._get(collection, rest[0]), query.get("expand"), "")
        if method == "DELETE" and len(rest) == 1 and collection == "subscriptions":
            self._get(collection, rest[0])
            return 200, self.builder.cancel_subscription(rest[0])
        if method == "DELETE" and len(rest) == 1 and collection in _DELETABLE:
            self._get(collection, rest[0])
            self._refuse_product_with_prices(collection, rest[0])
            del self.rows[collection][rest[0]]
            self.writes[(collection, "deleted")] += 1
            return 200, {"id": rest[0], "object": OBJECT_NAMES[collection], "deleted": True}
        if method == "POST" and collection not in _READ_ONLY and len(rest) <= 1:
            check_params(collection, form, update=bool(rest))
            if rest:
                self._get(collection, rest[0])
                return 200, self.builder.update(collection, rest[0], form)
            created = self.builder.create(collection, form)
            self._created_at[created["id"]] = self.clock()
            return 200, created
        raise self._unrecognized(method, path)

    def _refuse_product_with_prices(self, collection: str, object_id: str) -> None:
        if collection == "products" and any(
            price.get("product") == object_id for price in self.rows["prices"].values()
        ):
            message = "This product cannot be deleted because it has one or more prices."
            raise ApiError(400, "resource_in_use", "", message)

    def _get(self, collection: str, object_id: str) -> dict[str, Any]:
        found = self.rows[collection].get(object_id)
        if found is None:
            message = f"No such {OBJECT_NAMES[collection]}: '{object_id}'"
            raise ApiError(404, "resource_missing", "id", message)
        return found

    def _ordered(self, collection: str) -> list[dict[str, Any]]:
        rows = self.rows[collection].values()
        return sorted(rows, key=lambda row: (row["created"], row["id"]), reverse=True)

    def list(self, collection: str, query: Mapping[str, Any]) -> dict[str, Any]:
        """A newest-first list page, filtered by ``customer``, ``created``, an invoice's
        ``status`` or an event's ``type``/``types[]``, and paged by ``starting_after``."""
        limit = _limit(query)
        rows = filter_listed(collection, self._ordered(collection), query)
        if "customer" in query:
            rows = [row for row in rows if row.get("customer") == query["customer"]]
        if collection == "subscriptions" and query.get("status") != "all":
            # Like Stripe: canceled subscriptions are listed only when asked for.
            wanted = query.get("status")
            rows = [
                r
                for r in rows
                if r.get("status") == wanted or (not wanted and r.get("status") != "canceled")
            ]
        after = query.get("starting_after")
        if after is not None:
            ids = [row["id"] for row in rows]
            if after not in ids:
                raise ApiError(
                    400, "resource_missing", "starting_after", f"No such object: '{after}'"
                )
            rows = rows[ids.index(after) + 1 :]
        page = [self._expanded(row, query.get("expand"), "data.") for row in rows[:limit]]
        url = f"/v1/{collection}"
        return {"object": "list", "data": page, "has_more": len(rows) > limit, "url": url}

    def search(self, collection: str, query: Mapping[str, Any]) -> dict[str, Any]:
        """``metadata['key']:'value'`` search (the only clause revbridge sends)."""
        match = _SEARCH.match(str(query.get("query", "")))
        if match is None:
            raise ApiError(400, "parameter_invalid", "query", "Unsupported search query.")
        name, value = match.group(1), re.sub(r"\\(.)", r"\1", match.group(2))
        # Eventually consistent, like Stripe's: new objects show only after the lag.
        visible_before = self.clock() - self.search_lag_seconds
        rows = [
            dict(row)
            for row in self._ordered(collection)
            if (row.get("metadata") or {}).get(name) == value
            and self._created_at.get(row["id"], 0.0) <= visible_before
        ]
        limit = _limit(query)
        url = f"/v1/{collection}/search"
        return {
            "object": "search_result",
            "data": rows[:limit],
            "has_more": len(rows) > limit,
            "next_page": None,
            "url": url,
        }

    def _invoice_lines(self, invoice_id: str, query: Mapping[str, Any]) -> dict[str, Any]:
        lines = self._get("invoices", invoice_id)["lines"]["data"]
        after = query.get("starting_after")
        ids = [line["id"] for line in lines]
        start = ids.index(after) + 1 if after in ids else 0
        limit = _limit(query)
        page = lines[start : start + limit]
        url = f"/v1/invoices/{invoice_id}/lines"
        return {"object": "list", "data": page, "has_more": start + limit < len(lines), "url": url}

    def _expanded(self, row: dict[str, Any], expand: Any, prefix: str) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(row))
        lines = copy.get("lines")
        if isinstance(lines, dict) and len(lines["data"]) > _EMBEDDED_LINES:
            # Like Stripe, an invoice embeds its first lines; the rest via /lines.
            copy["lines"] = {**lines, "data": lines["data"][:_EMBEDDED_LINES], "has_more": True}
        for path in expand if isinstance(expand, list) else []:
            name = str(path).removeprefix(prefix)
            if name == "customer" and copy.get("customer") in self.rows["customers"]:
                copy["customer"] = dict(self.rows["customers"][copy["customer"]])
        return copy


def _limit(query: Mapping[str, Any]) -> int:
    raw = str(query.get("limit", "10"))
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise ApiError(400, "parameter_invalid_integer", "limit", "limit must be 1 to 100")
    return int(raw)
