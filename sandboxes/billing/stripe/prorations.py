"""Prorations, as Stripe creates them when a subscription changes mid-period.

An update with ``proration_behavior`` ``create_prorations`` (or ``always_invoice``) that changes
an item's quantity, removes an item, or moves ``cancel_at`` earlier adds a pending invoice item
with ``proration: true`` for each change: the quantity added (or taken away, negative) over
``period`` from ``proration_date`` (the update's time if none) to the subscription's end
(``cancel_at``), priced at the item's unit amount for the share of its billing interval that
period covers. ``none`` creates nothing. Nothing here is invoiced; the next billing run is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sandboxes.billing.stripe.objects import integer

if TYPE_CHECKING:
    from sandboxes.billing.stripe.store import StripeStore

_DAY = 86_400
_INTERVAL_SECONDS = {"day": _DAY, "week": 7 * _DAY, "month": 30 * _DAY, "year": 365 * _DAY}


def _interval_seconds(price: Mapping[str, Any]) -> int:
    recurring = price.get("recurring") or {}
    count = int(recurring.get("interval_count") or 1)
    return _INTERVAL_SECONDS.get(str(recurring.get("interval")), 365 * _DAY) * count


def _quantities(subscription: Mapping[str, Any]) -> dict[str, tuple[int, dict[str, Any]]]:
    return {
        str(item["id"]): (int(item.get("quantity") or 0), item)
        for item in (subscription.get("items") or {}).get("data", [])
    }


def prorate(
    state: StripeStore,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    form: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The proration items an update from ``before`` to ``after`` creates (stored pending)."""
    if form.get("proration_behavior", "create_prorations") == "none":
        return []
    start = integer(form, "proration_date", "proration_date") or state.tick()
    end = after.get("cancel_at")
    old, new = _quantities(before), _quantities(after)
    changes = [
        (new.get(i, (0, item))[0] - quantity, item, start) for i, (quantity, item) in old.items()
    ] + [(quantity, item, start) for i, (quantity, item) in new.items() if i not in old]
    earlier_end = before.get("cancel_at")
    if end is not None and earlier_end is not None and end < earlier_end:
        # Cancelled sooner: what was billed for the days after the new end comes back.
        changes += [(-quantity, item, int(end)) for quantity, item in new.values()]
        end = earlier_end
    return [
        _proration(state, after, item, delta, since, end)
        for delta, item, since in changes
        if delta != 0 and (item.get("price") or {}).get("unit_amount") is not None
    ]


def _proration(
    state: StripeStore,
    subscription: Mapping[str, Any],
    item: Mapping[str, Any],
    delta: int,
    start: int,
    end: Any,
) -> dict[str, Any]:
    price = item["price"]
    interval = _interval_seconds(price)
    covered = interval if end is None else max(0, min(int(end) - start, interval))
    amount = round(int(price["unit_amount"]) * delta * covered / interval)
    row = {
        "id": state.new_id("invoiceitems"),
        "object": "invoiceitem",
        "created": state.tick(),
        "livemode": False,
        "customer": subscription.get("customer"),
        "currency": price.get("currency"),
        "subscription": subscription["id"],
        "subscription_item": item["id"],
        "proration": True,
        "quantity": delta,
        "unit_amount": price["unit_amount"],
        "amount": amount,
        "period": {"start": start, "end": end},
        "price": price,
        "invoice": None,
        "metadata": {},
    }
    state.rows["invoiceitems"][row["id"]] = row
    state.writes[("invoiceitems", "created")] += 1
    return row
