"""An order in Stripe: one subscription for its recurring lines, one invoice item per other line.

The payload the ``orders`` collection takes (built by the billing mapping)::

    customer     Stripe customer id (a ref through the xref)             required
    currency     ISO 4217 code                                             required
    lines        [{external_id, product, quantity, unit_amount,            required
                   recurring: {interval, interval_count}?, description?}]
    status       activated (the default), draft or cancelled
    start_date   the order's effective date; end_date its last day (inclusive)
    collection_method, days_until_due, payment_behavior: see terms.py
    metadata     extra metadata; anything else goes to the subscription as is

What each status does in Stripe:

- ``activated``: the recurring lines become one subscription (collecting by invoice unless the
  mapping says otherwise, cancelled at the end of the order's last day), the others pending
  invoice items. An order whose last day has passed gets no new subscription (nothing is left to
  bill); its one-time lines are still written.
- ``draft``: nothing is written. The order is not booked yet, and a subscription starts billing.
- ``cancelled``: its subscription, if revbridge wrote one, is cancelled (``DELETE``, without a
  final invoice or proration) and its pending invoice items are deleted; nothing is created.

Each line is tagged ``metadata[revbridge_id]`` with its own canonical id and each invoice item
also with ``revbridge_order``, so a re-sync updates the same objects and deletes the invoice
items of lines that were removed. Quantities are whole numbers in Stripe. Every object of an
order is checked before the first is sent, so a record Stripe would refuse is never half written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from connectors.base import WriteOutcome, WriteResult
from connectors.billing.stripe.amendments import (
    ADD_ON_TAG,
    AMENDING,
    SubscriptionLocks,
    amendment_id,
    kept_amendments,
    write_amendment,
)
from connectors.billing.stripe.form import whole_number
from connectors.billing.stripe.objects import REVBRIDGE_ID, StripeObjects, rejected
from connectors.billing.stripe.terms import (
    ORDER_KEYS,
    OrderTerms,
    TermsError,
    collection_terms,
    has_ended,
    order_date,
    service_dates,
)
from connectors.billing.stripe.usage import is_metered, with_metered_prices

ORDER_TAG = "revbridge_order"
# The order statuses the payload may carry (any case), as revbridge acts on them.
_STATUSES = {
    "activated": "activated",
    "draft": "draft",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
_SKIPPED = ("currency", "lines", *ORDER_KEYS)


class _LineError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def _quantity(line: Mapping[str, Any], param: str) -> int:
    raw = line.get("quantity", 1)
    quantity = whole_number(raw)
    if quantity is None or quantity < 1:
        raise _LineError(f"{param}[quantity]", f"quantity {raw} must be a whole number >= 1")
    return quantity


def _line_id(order_id: str, line: Mapping[str, Any], index: int) -> str:
    return str(line.get("external_id") or f"{order_id}:{index + 1}")


def _price_data(line: Mapping[str, Any], currency: str, recurring: bool) -> dict[str, Any]:
    price: dict[str, Any] = {
        "currency": currency,
        "product": line.get("product"),
        "unit_amount": line.get("unit_amount"),
    }
    if recurring:
        price["recurring"] = dict(line["recurring"])
    return price


def _subscription_items(
    order_id: str, lines: Sequence[tuple[int, Mapping[str, Any]]], currency: str
) -> list[dict[str, Any]]:
    items = [
        {
            "price_data": _price_data(line, currency, recurring=True),
            "quantity": _quantity(line, f"lines[{index}]"),
            "metadata": {REVBRIDGE_ID: _line_id(order_id, line, index)},
        }
        for index, line in lines
    ]
    # A metered item is billed by reported usage: it carries no quantity.
    return [
        {k: v for k, v in item.items() if k != "quantity"} if is_metered(item) else item
        for item in items
    ]


def _with_existing_items(
    current: Mapping[str, Any], items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Point items at the subscription items they update; delete the ones no line matches.

    The items amendments added stay (:mod:`connectors.billing.stripe.amendments`).
    """
    listed = (current.get("items") or {}).get("data") or []
    by_tag = {
        str((item.get("metadata") or {}).get(REVBRIDGE_ID)): str(item["id"])
        for item in listed
        if not (item.get("metadata") or {}).get(ADD_ON_TAG)
    }
    wanted = {item["metadata"][REVBRIDGE_ID] for item in items}
    updated = [
        {**item, "id": by_tag[item["metadata"][REVBRIDGE_ID]]}
        if item["metadata"][REVBRIDGE_ID] in by_tag
        else item
        for item in items
    ]
    removed = [{"id": si, "deleted": True} for tag, si in by_tag.items() if tag not in wanted]
    return updated + removed


@dataclass(frozen=True)
class _Plan:
    """An order checked and turned into Stripe parameters, before anything is sent."""

    status: str
    subscription: dict[str, Any] | None  # prepared parameters; None: no subscription to write
    invoice_items: list[tuple[int, str, dict[str, Any]]]  # (line index, line id, prepared)


def _plan(
    objects: StripeObjects, order_id: str, params: Mapping[str, Any], terms: OrderTerms
) -> _Plan | WriteResult:
    """The order's prepared objects, or the rejection of the first part Stripe can't take."""
    raw_status = str(params.get("status") or "activated").lower()
    status = _STATUSES.get(raw_status)
    if status is None:
        message = f"order status {raw_status[:40]!r}: use activated, draft or cancelled"
        return rejected(order_id, "parameter_invalid", message, "status")
    currency = str(params["currency"])
    lines = list(enumerate(params["lines"]))
    recurring = [(i, line) for i, line in lines if line.get("recurring")]
    one_time = [(i, line) for i, line in lines if not line.get("recurring")]
    now = terms.now()
    end = order_date(params, "end_date")
    subscription = None
    if recurring and status == "activated" and not has_ended(end, now):
        extra = {k: v for k, v in params.items() if k not in _SKIPPED}
        body = {
            **extra,
            **collection_terms(params, terms.days_until_due),
            **service_dates(order_date(params, "start_date"), end, now),
            "items": _subscription_items(order_id, recurring, currency),
        }
        prepared = objects.prepare("subscriptions", order_id, body)
        if isinstance(prepared, WriteResult):
            return prepared
        subscription = prepared
    items = _invoice_items(objects, order_id, params, one_time if status == "activated" else [])
    if isinstance(items, WriteResult):
        return items
    return _Plan(status, subscription, items)


def _invoice_items(
    objects: StripeObjects,
    order_id: str,
    params: Mapping[str, Any],
    lines: Sequence[tuple[int, Mapping[str, Any]]],
) -> list[tuple[int, str, dict[str, Any]]] | WriteResult:
    """One prepared invoice item per one-time line, or the first line's rejection."""
    currency = str(params["currency"])
    items: list[tuple[int, str, dict[str, Any]]] = []
    for index, line in lines:
        line_id = _line_id(order_id, line, index)
        item = {
            "customer": params["customer"],
            "currency": currency,
            "price_data": _price_data(line, currency, recurring=False),
            "quantity": _quantity(line, f"lines[{index}]"),
            "description": line.get("description"),
            "metadata": {ORDER_TAG: order_id},
        }
        ready = objects.prepare("invoiceitems", line_id, item)
        if isinstance(ready, WriteResult):
            fields = tuple(f"lines[{index}].{name}" for name in ready.error_fields)
            return replace(ready, external_id=order_id, error_fields=fields)
        items.append((index, line_id, ready))
    return items


def _write_invoice_items(
    objects: StripeObjects,
    order_id: str,
    customer: Any,
    items: Sequence[tuple[int, str, dict[str, Any]]],
    write_token: str,
) -> tuple[WriteResult | None, bool]:
    """Upsert one invoice item per one-time line: the first rejection, or None; any created."""
    existing = objects.customer_invoice_items(customer) if isinstance(customer, str) else {}
    created = False
    for index, line_id, item in items:
        result = objects.send("invoiceitems", line_id, item, write_token, existing.get(line_id))
        if not result.ok:
            fields = tuple(f"lines[{index}].{name}" for name in result.error_fields)
            return replace(result, external_id=order_id, error_fields=fields), created
        created = created or result.outcome is WriteOutcome.CREATED
    wanted = {line_id for _, line_id, _ in items}
    for item in objects.list_all("/v1/invoiceitems", {"customer": str(customer)}):
        tags = item.get("metadata") or {}
        if tags.get(ORDER_TAG) == order_id and tags.get(REVBRIDGE_ID) not in wanted:
            objects.delete(f"/v1/invoiceitems/{quote(str(item['id']), safe='')}")
    return None, created


def _cancel(
    objects: StripeObjects, order_id: str, customer: Any, existing_id: str | None
) -> WriteResult:
    """Cancel the order's subscription (no final invoice, no proration); drop pending items."""
    subscription_id = existing_id or objects.find("subscriptions", order_id)
    if subscription_id is not None:
        path = f"/v1/subscriptions/{quote(subscription_id, safe='')}"
        if objects.get(path).get("status") not in ("canceled", "incomplete_expired"):
            objects.delete(path)
    failed, _ = _write_invoice_items(objects, order_id, customer, [], "")
    return failed or WriteResult(order_id, WriteOutcome.UPDATED, target_id=subscription_id)


def _write_booked(
    objects: StripeObjects,
    order_id: str,
    customer: Any,
    plan: _Plan,
    write_token: str,
    existing_id: str | None,
) -> WriteResult:
    """The subscription (if the order has one to write), then the invoice items."""
    outcome = WriteResult(order_id, WriteOutcome.UPDATED, target_id=existing_id)
    if plan.subscription is not None:
        body = plan.subscription
        subscription_id = existing_id or objects.find("subscriptions", order_id)
        if subscription_id is not None:
            current = objects.get(f"/v1/subscriptions/{quote(subscription_id, safe='')}")
            # The amendments made since keep their quantities, items and end.
            body = {**body, **kept_amendments(current, body)}
            body = {**body, "items": _with_existing_items(current, body["items"])}
        items = with_metered_prices(objects, body["items"], write_token)
        if isinstance(items, WriteResult):
            return replace(items, external_id=order_id)
        body = {**body, "items": items}
        outcome = objects.send("subscriptions", order_id, body, write_token, subscription_id)
        if not outcome.ok:
            return outcome
    failed, created = _write_invoice_items(
        objects, order_id, customer, plan.invoice_items, write_token
    )
    if failed is not None:
        return failed
    if plan.subscription is None and created:
        return replace(outcome, outcome=WriteOutcome.CREATED)
    return outcome


def write_order(
    objects: StripeObjects,
    order_id: str,
    params: Mapping[str, Any],
    write_token: str,
    existing_id: str | None,
    terms: OrderTerms | None = None,
    locks: SubscriptionLocks | None = None,
) -> WriteResult:
    """Write one order; rejected as a whole if any part is, so the retry redoes the rest.

    ``locks`` serialise the amendments of one subscription across the connector's threads."""
    for name in ("customer", "currency", "lines"):
        if not params.get(name):
            return rejected(order_id, "parameter_missing", f"the order needs {name}", name)
    if str(params.get("type") or "new").lower() in AMENDING:
        return _write_amending(objects, order_id, params, write_token, locks)
    try:
        plan = _plan(objects, order_id, params, terms or OrderTerms())
    except (_LineError, TermsError) as error:
        return rejected(order_id, "parameter_invalid", str(error), error.param)
    if isinstance(plan, WriteResult):
        return plan
    return _write_planned(objects, order_id, params["customer"], plan, write_token, existing_id)


def _write_planned(
    objects: StripeObjects,
    order_id: str,
    customer: Any,
    plan: _Plan,
    write_token: str,
    existing_id: str | None,
) -> WriteResult:
    if plan.status == "draft":
        return WriteResult(order_id, WriteOutcome.UPDATED, target_id=existing_id)
    if plan.status == "cancelled":
        return _cancel(objects, order_id, customer, existing_id)
    return _write_booked(objects, order_id, customer, plan, write_token, existing_id)


def _write_amending(
    objects: StripeObjects,
    order_id: str,
    params: Mapping[str, Any],
    write_token: str,
    locks: SubscriptionLocks | None,
) -> WriteResult:
    """An amendment or cancellation: a change of the subscription it revises, then its
    one-time lines as invoice items. A draft or cancelled amendment changes nothing."""
    status = _STATUSES.get(str(params.get("status") or "activated").lower())
    if status != "activated":
        revises = amendment_id(str(params.get("revises") or ""), order_id)
        return WriteResult(order_id, WriteOutcome.UPDATED, target_id=revises)
    lines = list(enumerate(params["lines"]))
    recurring = [(i, line) for i, line in lines if line.get("recurring")]
    one_time = [(i, line) for i, line in lines if not line.get("recurring")]
    try:
        effective = order_date(params, "start_date")
        items = _invoice_items(objects, order_id, params, one_time)
    except (_LineError, TermsError) as error:
        return rejected(order_id, "parameter_invalid", str(error), error.param)
    if isinstance(items, WriteResult):
        return items
    result = write_amendment(
        objects, order_id, params, recurring, effective, write_token, locks or SubscriptionLocks()
    )
    if not result.ok:
        return result
    failed, _ = _write_invoice_items(objects, order_id, params["customer"], items, write_token)
    return failed or result
