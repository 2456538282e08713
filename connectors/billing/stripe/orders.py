"""An order in Stripe: one subscription for its recurring lines, one invoice item per other line.

The payload the ``orders`` collection takes (built by the billing mapping)::

    customer   Stripe customer id (a ref through the xref)            required
    currency   ISO 4217 code                                            required
    lines      [{external_id, product, quantity, unit_amount,           required
                 recurring: {interval, interval_count}?, description?}]
    metadata   extra metadata; anything else goes to the subscription as is

Each line is tagged ``metadata[revbridge_id]`` with its own canonical id and each invoice item
also with ``revbridge_order``, so a re-sync updates the same objects and deletes the invoice
items of lines that were removed. Quantities are whole numbers in Stripe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from connectors.base import WriteOutcome, WriteResult
from connectors.billing.stripe.objects import REVBRIDGE_ID, StripeObjects, rejected

ORDER_TAG = "revbridge_order"


class _LineError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def _quantity(line: Mapping[str, Any], param: str) -> int:
    raw = line.get("quantity", 1)
    quantity = Decimal(str(raw))
    if quantity != quantity.to_integral_value() or quantity < 1:
        raise _LineError(f"{param}[quantity]", f"quantity {raw} must be a whole number >= 1")
    return int(quantity)


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
    return [
        {
            "price_data": _price_data(line, currency, recurring=True),
            "quantity": _quantity(line, f"lines[{index}]"),
            "metadata": {REVBRIDGE_ID: _line_id(order_id, line, index)},
        }
        for index, line in lines
    ]


def _with_existing_items(
    objects: StripeObjects, subscription_id: str, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Point items at the subscription items they update; delete the ones no line matches."""
    current = objects.get(f"/v1/subscriptions/{quote(subscription_id, safe='')}")
    by_tag = {
        str((item.get("metadata") or {}).get(REVBRIDGE_ID)): str(item["id"])
        for item in (current.get("items") or {}).get("data") or []
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


def _write_invoice_items(
    objects: StripeObjects,
    order_id: str,
    params: Mapping[str, Any],
    lines: Sequence[tuple[int, Mapping[str, Any]]],
    write_token: str,
) -> tuple[WriteResult | None, bool]:
    """Upsert one invoice item per one-time line: the first rejection, or None; any created."""
    customer, currency = params["customer"], params["currency"]
    existing = objects.customer_invoice_items(customer) if isinstance(customer, str) else {}
    wanted: set[str] = set()
    created = False
    for index, line in lines:
        line_id = _line_id(order_id, line, index)
        wanted.add(line_id)
        item = {
            "customer": customer,
            "currency": currency,
            "price_data": _price_data(line, currency, recurring=False),
            "quantity": _quantity(line, f"lines[{index}]"),
            "description": line.get("description"),
            "metadata": {ORDER_TAG: order_id},
        }
        result = objects.upsert("invoiceitems", line_id, item, write_token, existing.get(line_id))
        if not result.ok:
            fields = tuple(f"lines[{index}].{name}" for name in result.error_fields)
            return replace(result, external_id=order_id, error_fields=fields), created
        created = created or result.outcome is WriteOutcome.CREATED
    for item in objects.list_all("/v1/invoiceitems", {"customer": str(customer)}):
        tags = item.get("metadata") or {}
        if tags.get(ORDER_TAG) == order_id and tags.get(REVBRIDGE_ID) not in wanted:
            objects.delete(f"/v1/invoiceitems/{quote(str(item['id']), safe='')}")
    return None, created


def write_order(
    objects: StripeObjects,
    order_id: str,
    params: Mapping[str, Any],
    write_token: str,
    existing_id: str | None,
) -> WriteResult:
    """Write one order; rejected as a whole if any part is, so the retry redoes the rest."""
    for name in ("customer", "currency", "lines"):
        if not params.get(name):
            return rejected(order_id, "parameter_missing", f"the order needs {name}", name)
    lines = list(enumerate(params["lines"]))
    recurring = [(i, line) for i, line in lines if line.get("recurring")]
    one_time = [(i, line) for i, line in lines if not line.get("recurring")]
    extra = {k: v for k, v in params.items() if k not in ("currency", "lines")}
    try:
        outcome = WriteResult(order_id, WriteOutcome.UPDATED)
        if recurring:
            items = _subscription_items(order_id, recurring, str(params["currency"]))
            subscription_id = existing_id or objects.find("subscriptions", order_id)
            if subscription_id is not None:
                items = _with_existing_items(objects, subscription_id, items)
            body = {**extra, "items": items}
            outcome = objects.upsert("subscriptions", order_id, body, write_token, subscription_id)
            if not outcome.ok:
                return outcome
        failed, created = _write_invoice_items(objects, order_id, params, one_time, write_token)
    except _LineError as error:
        return rejected(order_id, "parameter_invalid", str(error), error.param)
    if failed is not None:
        return failed
    if not recurring and created:
        return replace(outcome, outcome=WriteOutcome.CREATED)
    return outcome
