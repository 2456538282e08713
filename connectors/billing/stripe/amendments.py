"""A CPQ amendment or cancellation order in Stripe: a change of the subscription it amends.

CPQ writes an amendment as an order holding only the change: one line per changed product, the
signed delta, effective from the order's start date. Stripe keeps one quantity per subscription
item, so the connector updates the subscription of the order the amendment revises (the
payload's ``revises``, that order's Stripe subscription through the xref; the engine holds the
amendment until the original is in Stripe):

- a line of a product the subscription bills changes that item's quantity by the delta;
- a line of a product it does not bill (an add-on) adds an item, co-terminated with it;
- a product whose quantity comes to 0 loses its item; when no item is left, the subscription
  is cancelled at the effective date (``cancel_at``) instead;
- each update carries ``proration_behavior`` (the payload's, ``create_prorations`` unless the
  mapping says otherwise) and ``proration_date``, the effective date, so Stripe prorates from
  the day the change took effect.

Every change applied is recorded in the subscription's metadata (``rbc_<line id>`` =
``<product>|<delta>``). The quantity an item gets is worked out from that record, so an
amendment sent twice (a lost answer, a second run) changes nothing the second time, and the
changes of a subscription add up to the same quantities whatever order they arrive in. One-time
lines of the order are invoice items, as on any order. The connector writes orders in
parallel, so the read and update of one subscription hold its lock (:class:`SubscriptionLocks`):
two amendments of one subscription in one page would otherwise both start from the same
quantity.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import quote

from connectors.base import WriteOutcome, WriteResult
from connectors.billing.stripe.form import MoneyError, to_minor_units, whole_number
from connectors.billing.stripe.objects import REVBRIDGE_ID, StripeObjects, rejected
from connectors.billing.stripe.terms import midnight

AMENDING = frozenset({"amendment", "cancellation"})
CHANGE_PREFIX = "rbc_"
# Stripe's own default; a mapping may say always_invoice or none.
DEFAULT_PRORATION = "create_prorations"
_PRORATIONS = frozenset({"create_prorations", "always_invoice", "none"})
ADD_ON_TAG = "revbridge_amendment"


class SubscriptionLocks:
    """One lock per Stripe subscription, for the writes of one connector."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, subscription_id: str) -> Iterator[None]:
        """Hold ``subscription_id``'s lock for the block."""
        with self._guard:
            lock = self._locks.setdefault(subscription_id, threading.Lock())
        with lock:
            yield


class AmendmentError(ValueError):
    """An amendment Stripe cannot take as it is; rejected with its parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def change_key(line_id: str) -> str:
    """The metadata key of one applied change (Stripe keys hold up to 40 characters)."""
    return CHANGE_PREFIX + line_id.replace("-", "")[:32]


def applied_changes(metadata: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    """``key -> (product, delta)`` of the changes recorded on a subscription."""
    changes: dict[str, tuple[str, int]] = {}
    for key, value in metadata.items():
        product, _, delta = str(value).rpartition("|")
        if key.startswith(CHANGE_PREFIX) and product and delta.lstrip("-").isdigit():
            changes[key] = (product, int(delta))
    return changes


def applied_total(metadata: Mapping[str, Any], product: str) -> int:
    """The sum of the recorded changes of ``product`` on a subscription."""
    return sum(d for p, d in applied_changes(metadata).values() if p == product)


def _delta(line: Mapping[str, Any], param: str) -> int:
    raw = line.get("quantity")
    quantity = whole_number(raw)
    if not quantity:
        message = f"quantity {str(raw)[:40]} must be a whole number other than 0 (the change)"
        raise AmendmentError(f"{param}[quantity]", message)
    return quantity


@dataclass(frozen=True)
class _Line:
    key: str
    line_id: str
    product: str
    delta: int
    line: Mapping[str, Any]


def _lines(order_id: str, lines: Sequence[tuple[int, Mapping[str, Any]]]) -> list[_Line]:
    changes = []
    for index, line in lines:
        line_id = str(line.get("external_id") or f"{order_id}:{index + 1}")
        product = line.get("product")
        if not isinstance(product, str) or not product:
            raise AmendmentError(f"lines[{index}][product]", "the line needs its product")
        delta = _delta(line, f"lines[{index}]")
        changes.append(_Line(change_key(line_id), line_id, product, delta, line))
    return changes


def _item_changes(
    subscription: Mapping[str, Any], changes: list[_Line], currency: str
) -> tuple[list[dict[str, Any]], bool]:
    """The ``items`` of the update, and whether no item is left (the subscription ends)."""
    metadata = dict(subscription.get("metadata") or {})
    recorded = applied_changes(metadata)
    merged = {**recorded, **{c.key: (c.product, c.delta) for c in changes}}
    items = (subscription.get("items") or {}).get("data") or []
    by_product = {str((item.get("price") or {}).get("product")): item for item in items}
    updates: list[dict[str, Any]] = []
    left = {p for p, item in by_product.items() if int(item.get("quantity") or 0) > 0}
    for product in sorted({c.product for c in changes}):
        item = by_product.get(product)
        before = sum(d for p, d in recorded.values() if p == product)
        after = sum(d for p, d in merged.values() if p == product)
        quantity = (int(item.get("quantity") or 0) if item else 0) - before + after
        if quantity < 0:
            message = f"the changes take product {product}'s quantity to {quantity}"
            raise AmendmentError("lines", message + "; a quantity never goes below 0")
        if quantity == 0:
            left.discard(product)
            if item is not None:
                updates.append({"id": item["id"], "deleted": True})
        elif item is not None:
            left.add(product)
            updates.append({"id": item["id"], "quantity": quantity})
        else:
            left.add(product)
            updates.append(_add_on(next(c for c in changes if c.product == product), quantity,
                                   currency))  # fmt: skip
    return updates, not left


def _add_on(change: _Line, quantity: int, currency: str) -> dict[str, Any]:
    line = change.line
    price = {
        "currency": currency,
        "product": change.product,
        "unit_amount": line.get("unit_amount"),
        "recurring": dict(line.get("recurring") or {}),
    }
    return {
        "price_data": price,
        "quantity": quantity,
        "metadata": {REVBRIDGE_ID: change.line_id, ADD_ON_TAG: "true"},
    }


def amendment_body(
    subscription: Mapping[str, Any],
    params: Mapping[str, Any],
    changes: list[_Line],
    effective: date,
) -> dict[str, Any] | None:
    """The update of ``subscription`` these changes make; None when all are applied already."""
    recorded = applied_changes(dict(subscription.get("metadata") or {}))
    if all(recorded.get(c.key) == (c.product, c.delta) for c in changes):
        return None
    behavior = str(params.get("proration_behavior") or DEFAULT_PRORATION)
    if behavior not in _PRORATIONS:
        message = f"proration_behavior {behavior[:40]!r}: use {', '.join(sorted(_PRORATIONS))}"
        raise AmendmentError("proration_behavior", message)
    items, ends = _item_changes(subscription, changes, str(params["currency"]))
    body: dict[str, Any] = {
        "proration_behavior": behavior,
        "proration_date": midnight(effective),
        "metadata": {c.key: f"{c.product}|{c.delta}" for c in changes},
    }
    if ends:
        # Cancelled at the effective date; its items stay as they were billed until then.
        body["cancel_at"] = midnight(effective)
    else:
        body["items"] = items
    try:
        wire: dict[str, Any] = to_minor_units(body, str(params["currency"]))
    except MoneyError as error:
        raise AmendmentError(error.param, str(error)) from None
    return wire


def write_amendment(
    objects: StripeObjects,
    order_id: str,
    params: Mapping[str, Any],
    recurring: Sequence[tuple[int, Mapping[str, Any]]],
    effective: date | None,
    write_token: str,
    locks: SubscriptionLocks,
) -> WriteResult:
    """Apply the order's recurring lines to the subscription it revises; one result."""
    revises = params.get("revises")
    if not isinstance(revises, str) or not revises:
        message = (
            "an amendment order needs revises: the Stripe subscription of the order it changes"
        )
        return rejected(order_id, "parameter_missing", message, "revises")
    if effective is None:
        return rejected(order_id, "parameter_missing", "an amendment needs its start_date",
                        "start_date")  # fmt: skip
    with locks.hold(revises):
        return _apply(objects, order_id, params, recurring, effective, write_token, revises)


def _apply(
    objects: StripeObjects,
    order_id: str,
    params: Mapping[str, Any],
    recurring: Sequence[tuple[int, Mapping[str, Any]]],
    effective: date,
    write_token: str,
    revises: str,
) -> WriteResult:
    try:
        changes = _lines(order_id, recurring)
        subscription = objects.get(f"/v1/subscriptions/{quote(revises, safe='')}")
        body = amendment_body(subscription, params, changes, effective) if changes else None
    except AmendmentError as error:
        return rejected(order_id, "parameter_invalid", str(error), error.param)
    target_id = amendment_id(revises, order_id)
    if body is None:
        return WriteResult(order_id, WriteOutcome.UPDATED, target_id=target_id)
    if subscription.get("status") == "canceled":
        message = f"subscription {revises} is canceled: an amendment cannot change it"
        return rejected(order_id, "subscription_canceled", message, "revises")
    result = objects.send("subscriptions", order_id, body, write_token, revises)
    return replace(result, target_id=target_id) if result.ok else result


def amendment_id(subscription_id: str, order_id: str) -> str:
    """An amendment order's billing id: the subscription it changes, ``#``, its own id.

    Unique per order, as revbridge's xref needs, and still naming the Stripe object.
    """
    return f"{subscription_id}#{order_id}"
