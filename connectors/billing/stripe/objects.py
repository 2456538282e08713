"""Create-or-update of single Stripe objects, found by revbridge's xref id or by metadata.

Stripe has no upsert by external id, so revbridge keeps the link itself, twice:

- in its xref: the engine puts the billing id it knows under :data:`EXISTING_ID_KEY` in the
  payload, and the connector updates ``POST /v1/{collection}/{id}`` without looking it up;
- in Stripe, as ``metadata[revbridge_id]``: with no known id, the connector looks for the object
  as ``billing.lookup`` says (:mod:`connectors.billing.stripe.lookup`: Stripe's search, one
  listing per run, or not at all) before it creates anything; invoice items are listed per
  customer.

Creates carry an idempotency key from the collection, the canonical id and a hash of the
content, so a create retried after a lost answer, even by a later run that found nothing (a
lagging search, ``lookup: none``, a lost store), is replayed rather than repeated while Stripe
keeps the key (24 hours); changed content gets a new key, as Stripe refuses a key reused with
other parameters. Updates add a token per connector call: they are safe to repeat, and a later
write must not replay an earlier update of the same content (A -> B -> A). A record whose own
data Stripe would refuse (:mod:`connectors.billing.stripe.limits`) is rejected unsent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import requests

from connectors.base import WriteOutcome, WriteResult
from connectors.billing.http import ApiRequest, BillingHttpClient
from connectors.billing.json_profile import json_object, rejection
from connectors.billing.stripe.form import MoneyError, form_body, to_minor_units
from connectors.billing.stripe.limits import first_problem
from connectors.billing.stripe.lookup import REVBRIDGE_ID, StripeLookup, list_objects, search_query
from connectors.errors import ConfigError

__all__ = [
    "EXISTING_ID_KEY",
    "REVBRIDGE_ID",
    "StripeObjects",
    "create_key",
    "rejected",
    "search_query",
    "update_key",
]

SYSTEM = "billing"
FORM = "application/x-www-form-urlencoded"
# Reserved payload key: the billing id revbridge's xref holds for this record, if any.
EXISTING_ID_KEY = "_billing_id"
WRITABLE = frozenset({"customers", "products", "prices", "subscriptions", "invoiceitems"})
# Parameters Stripe accepts on create only; they are left out of updates.
_CREATE_ONLY: Mapping[str, frozenset[str]] = {
    "customers": frozenset({"payment_method", "tax_id_data", "test_clock"}),
    "products": frozenset({"id"}),
    "prices": frozenset(
        {
            "billing_scheme",
            "currency",
            "product",
            "product_data",
            "recurring",
            "tiers",
            "tiers_mode",
            "transform_quantity",
            "unit_amount",
            "unit_amount_decimal",
        }
    ),
    "subscriptions": frozenset(
        {"customer", "backdate_start_date", "billing_cycle_anchor", "trial_period_days"}
    ),
    "invoiceitems": frozenset({"currency", "customer", "invoice", "subscription"}),
}


def create_key(collection: str, external_id: str, body: bytes) -> str:
    """Idempotency key of a create: canonical id + content hash, stable across runs."""
    material = "\0".join((collection, external_id, hashlib.sha256(body).hexdigest()))
    return "revbridge-" + hashlib.sha256(material.encode()).hexdigest()[:48]


def update_key(collection: str, target_id: str, body: bytes, write_token: str) -> str:
    """Idempotency key of an update: content hash + billing id + this call's token."""
    material = "\0".join((collection, target_id, hashlib.sha256(body).hexdigest(), write_token))
    return "revbridge-" + hashlib.sha256(material.encode()).hexdigest()[:48]


def rejected(external_id: str, code: str, message: str, param: str = "") -> WriteResult:
    """A record revbridge refuses to send, in the API's rejection shape."""
    fields = (param,) if param else ()
    return WriteResult(external_id, WriteOutcome.REJECTED, None, code, message, fields)


class StripeObjects:
    """Create-or-update of single Stripe objects, found by xref id or metadata."""

    def __init__(self, client: BillingHttpClient, lookup: StripeLookup | None = None) -> None:
        self._client = client
        self._lookup = lookup or StripeLookup()

    def upsert(
        self,
        collection: str,
        external_id: str,
        params: Mapping[str, Any],
        write_token: str,
        existing_id: str | None = None,
    ) -> WriteResult:
        """Update the object revbridge knows or finds, else create it; one result."""
        wire = self.prepare(collection, external_id, params)
        if isinstance(wire, WriteResult):
            return wire
        target_id = existing_id or self.find(collection, external_id, wire.get("customer"))
        return self.send(collection, external_id, wire, write_token, target_id)

    def prepare(
        self, collection: str, external_id: str, params: Mapping[str, Any]
    ) -> dict[str, Any] | WriteResult:
        """The parameters as sent (tagged, minor units), or why Stripe would refuse them."""
        if collection not in WRITABLE:
            known = ", ".join(sorted(WRITABLE | {"orders"}))
            raise ConfigError(f"Stripe has no writable {collection!r}; use {known}", system=SYSTEM)
        metadata = {**dict(params.get("metadata") or {}), REVBRIDGE_ID: external_id}
        try:
            wire: dict[str, Any] = to_minor_units({**params, "metadata": metadata})
        except MoneyError as error:
            return rejected(external_id, "amount_invalid", str(error), error.param)
        problem = first_problem(collection, wire)
        if problem is not None:
            return rejected(external_id, problem.code, problem.message, problem.param)
        return wire

    def send(
        self,
        collection: str,
        external_id: str,
        wire: Mapping[str, Any],
        write_token: str,
        target_id: str | None,
    ) -> WriteResult:
        """Create (``target_id`` None) or update prepared parameters; one result."""
        if target_id is None:
            body = form_body(wire)
            key = create_key(collection, external_id, body)
            result = self._result(external_id, self._post(f"/v1/{collection}", body, key), True)
            if result.ok and result.target_id is not None:
                self._lookup.remember(collection, external_id, result.target_id)
            return result
        update = {k: v for k, v in wire.items() if k not in _CREATE_ONLY[collection]}
        body = form_body(update)
        key = update_key(collection, target_id, body, write_token)
        path = f"/v1/{collection}/{quote(target_id, safe='')}"
        return self._result(external_id, self._post(path, body, key), False)

    def find(self, collection: str, external_id: str, customer: Any = None) -> str | None:
        """The billing id of the object tagged ``metadata[revbridge_id]``, if one exists."""
        if collection == "invoiceitems":
            if isinstance(customer, str):
                return self.customer_invoice_items(customer).get(external_id)
            return None
        return self._lookup.find(self._client, collection, external_id)

    def customer_invoice_items(self, customer: str) -> dict[str, str]:
        """``revbridge_id -> invoice item id`` of the customer's tagged invoice items."""
        found: dict[str, str] = {}
        for item in self.list_all("/v1/invoiceitems", {"customer": customer}):
            tag = (item.get("metadata") or {}).get(REVBRIDGE_ID)
            if tag:
                found.setdefault(str(tag), str(item["id"]))
        return found

    def list_all(self, path: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every object of a cursor-paged list."""
        return list_objects(self._client, path, params)

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One GET answer as JSON."""
        return json_object(self._client.send(ApiRequest("GET", path, params=params or {})))

    def delete(self, path: str) -> None:
        """Delete one object; already gone is fine."""
        self._client.send(ApiRequest("DELETE", path), missing_ok=True)

    def _post(self, path: str, body: bytes, key: str) -> requests.Response:
        request = ApiRequest("POST", path, body=body, content_type=FORM, idempotency_key=key)
        return self._client.send(request, missing_ok=True)

    @staticmethod
    def _result(external_id: str, response: requests.Response, created: bool) -> WriteResult:
        if response.status_code >= 300:
            return rejection(external_id, response)
        outcome = WriteOutcome.CREATED if created else WriteOutcome.UPDATED
        return WriteResult(external_id, outcome, target_id=str(json_object(response)["id"]))
