"""A CPQ amendment or cancellation order in Stripe: a change of the subscription it amends.

CPQ writes an amendment as an order holding only the change: one line per changed product, the
signed delta, effective from the order's start date. Stripe keeps one quantity per subscription
item, so the connector updates the subscription of the order the amendment revises (the
payload's ``revises``, that order's Stripe subscription through the xref; the engine holds the
amendment until the original is in Stripe):

- a line of a product the subscription bills changes that item's quantity by the delta;
- a line of a product it does not bill (an add-on) adds an item, co-terminated with it;
- a product whose quantity comes to 0 ends on the date of its latest decrease (CPQ's
  cancellation, :func:`product_state`) and loses its item; when no product is left, the
  subscription is cancelled that day (``cancel_at``) instead, its items keeping what was billed
  until then;
- each update carries ``proration_behavior`` (the payload's, ``create_prorations`` unless the
  mapping says otherwise) and ``proration_date``, the effective date, so Stripe prorates from
  the day the change took effect.

Every change applied is recorded in the subscription's metadata (``rbc_<line id>`` =
``<product>|<delta>|<date>``), and so is each product's quantity before any change
(``rbb_<product>``). The quantity an item gets and the day it ends are worked out from that
record, so an amendment sent twice (a lost answer, a second run) changes nothing the second
time, the changes of a subscription end at the same quantities and date whatever order they
arrive in, and a later write of the original order keeps them (:func:`kept_amendments`). One-time
lines of the order are invoice items, as on any order. The connector writes orders in
parallel, so the read and update of one subscription hold its lock (:class:`SubscriptionLocks`):
two amendments of one subscription in one page would otherwise both start from the same
quantity.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
BASE_PREFIX = "rbb_"
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


@dataclass(frozen=True)
class Applied:
    """One change recorded on a subscription: its product, delta and effective date."""

    product: str
    delta: int
    on: str  # ISO date; "" on a record without one


def applied_changes(metadata: Mapping[str, Any]) -> dict[str, Applied]:
    """``key -> change`` of the changes recorded on a subscription (``product|delta|date``)."""
    changes: dict[str, Applied] = {}
    for key, value in metadata.items():
        product, _, rest = str(value).partition("|")
        delta, _, on = rest.partition("|")
        if key.startswith(CHANGE_PREFIX) and product and delta.lstrip("-").isdigit():
            changes[key] = Applied(product, int(delta), on)
    return changes


def base_key(product: str) -> str:
    """The metadata key of a product's quantity before any change (40 characters at most)."""
    return BASE_PREFIX + product[: 40 - len(BASE_PREFIX)]


@dataclass(frozen=True)
class ProductState:
    """What a subscription holds of one product, from its quantity before any change."""

    quantity: int  # the item's quantity: the base and every change but those that end it
    ends_on: str | None  # the day its quantity comes to 0, if it does


def product_state(base: int, changes: Iterable[Applied]) -> ProductState:
    """The product's state from ``base`` and its changes, whatever order they came in.

    When the changes take it to 0, it ends on the date of the latest decrease (CPQ's
    cancellation), and the item keeps the quantity billed until then: the cancellation is
    not applied to it, the other changes are, so an upsell that arrives after the
    cancellation still bills the days between them.
    """
    listed = list(changes)
    total = base + sum(change.delta for change in listed)
    if total > 0:
        return ProductState(total, None)
    ends_on = max((c.on for c in listed if c.delta < 0), default="")
    kept = base + sum(c.delta for c in listed if not (c.delta < 0 and c.on == ends_on))
    return ProductState(max(kept, 0), ends_on)


def recorded_states(
    metadata: Mapping[str, Any], quantities: Mapping[str, int]
) -> dict[str, ProductState]:
    """Each changed product's state from the subscription's metadata; ``quantities`` are the
    items' current quantities, the base of a product with none recorded."""
    changes = applied_changes(metadata)
    products = {change.product for change in changes.values()}
    return {
        product: product_state(
            _base(metadata, product, quantities.get(product, 0)),
            [c for c in changes.values() if c.product == product],
        )
        for product in products
    }


def _base(metadata: Mapping[str, Any], product: str, default: int) -> int:
    recorded = whole_number(metadata.get(base_key(product)))
    return default if recorded is None else recorded


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


@dataclass
class _Update:
    """What one amendment does to the subscription: item changes, new bases, the end."""

    items: list[dict[str, Any]]
    bases: dict[str, str]
    ends_on: str | None  # set when no product is left: the subscription ends that day


def _quantities(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {
        str((item.get("price") or {}).get("product")): int(item.get("quantity") or 0)
        for item in items
    }


def _item_changes(
    subscription: Mapping[str, Any], changes: list[_Line], effective: date, currency: str
) -> _Update:
    """The item changes these changes make, and whether the subscription ends."""
    metadata = dict(subscription.get("metadata") or {})
    items = (subscription.get("items") or {}).get("data") or []
    by_product = {str((item.get("price") or {}).get("product")): item for item in items}
    quantities = _quantities(items)
    new = {c.key: f"{c.product}|{c.delta}|{effective.isoformat()}" for c in changes}
    touched = {c.product for c in changes}
    bases = {base_key(p): str(quantities.get(p, 0)) for p in touched
             if whole_number(metadata.get(base_key(p))) is None}  # fmt: skip
    states = recorded_states({**metadata, **new, **bases}, quantities)
    live = {p for p, q in quantities.items() if q > 0 and states.get(p, _LIVE).ends_on is None}
    live |= {p for p in touched if states[p].ends_on is None}
    updates: list[dict[str, Any]] = []
    for product in sorted(touched):
        state, item = states[product], by_product.get(product)
        if item is None:
            if state.ends_on is None:
                first = next(c for c in changes if c.product == product)
                updates.append(_add_on(first, state.quantity, currency))
        elif state.ends_on is not None and live:
            updates.append({"id": item["id"], "deleted": True})
        elif state.quantity != quantities[product]:
            updates.append({"id": item["id"], "quantity": state.quantity})
    ends = [s.ends_on or effective.isoformat() for s in states.values() if s.ends_on is not None]
    return _Update(updates, bases, None if live else max(ends, default=effective.isoformat()))


_LIVE = ProductState(1, None)


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


def _recorded_as(applied: Applied | None, change: _Line) -> bool:
    recorded = None if applied is None else (applied.product, applied.delta)
    return recorded == (change.product, change.delta)


def amendment_body(
    subscription: Mapping[str, Any],
    params: Mapping[str, Any],
    changes: list[_Line],
    effective: date,
) -> dict[str, Any] | None:
    """The update of ``subscription`` these changes make; None when all are applied already."""
    recorded = applied_changes(dict(subscription.get("metadata") or {}))
    if all(_recorded_as(recorded.get(c.key), c) for c in changes):
        return None
    behavior = str(params.get("proration_behavior") or DEFAULT_PRORATION)
    if behavior not in _PRORATIONS:
        message = f"proration_behavior {behavior[:40]!r}: use {', '.join(sorted(_PRORATIONS))}"
        raise AmendmentError("proration_behavior", message)
    update = _item_changes(subscription, changes, effective, str(params["currency"]))
    metadata = {c.key: f"{c.product}|{c.delta}|{effective.isoformat()}" for c in changes}
    body: dict[str, Any] = {
        "proration_behavior": behavior,
        "proration_date": midnight(effective),
        "metadata": {**metadata, **update.bases},
    }
    if update.items:
        body["items"] = update.items
    if update.ends_on is not None:
        # No product left: the subscription ends on the day the last one did.
        body["cancel_at"] = midnight(date.fromisoformat(update.ends_on))
    try:
        wire: dict[str, Any] = to_minor_units(body, str(params["currency"]))
    except MoneyError as error:
        raise AmendmentError(error.param, str(error)) from None
    return wire


def kept_amendments(current: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """What a re-write of the original order keeps of the amendments made since.

    The order's lines give each product's quantity before any change (recorded again, in case
    CPQ corrected it); the items take the quantities the recorded changes make of them, and a
    subscription whose products have all ended keeps its ``cancel_at``.
    """
    metadata = dict(current.get("metadata") or {})
    if not applied_changes(metadata):
        return {}
    lines = {str(item["price_data"]["product"]): int(item["quantity"])
             for item in body["items"] if "quantity" in item and "price_data" in item}  # fmt: skip
    bases = {base_key(product): str(quantity) for product, quantity in lines.items()}
    current_items = (current.get("items") or {}).get("data") or []
    states = recorded_states({**metadata, **bases}, {**_quantities(current_items), **lines})
    items = [
        {**item, "quantity": states[product].quantity}
        if (product := str((item.get("price_data") or {}).get("product"))) in states
        and "quantity" in item
        else item
        for item in body["items"]
    ]
    kept: dict[str, Any] = {"items": items,
                            "metadata": {**dict(body.get("metadata") or {}), **bases}}  # fmt: skip
    products = set(_quantities(current_items)) | set(lines)
    ended = [states[p].ends_on for p in products if p in states and states[p].ends_on]
    if products and len(ended) == len(products):
        kept["cancel_at"] = midnight(date.fromisoformat(max(e for e in ended if e)))
    return kept


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
