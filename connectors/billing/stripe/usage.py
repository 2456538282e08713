"""Usage lines in Stripe: a subscription item on a metered price, billed by what is reported.

Stripe takes ``recurring[usage_type]=metered`` only on a price of its own (``POST /v1/prices``),
not on the inline ``price_data`` of a subscription item, and a metered item has no quantity. So
an order line whose ``recurring.usage_type`` is ``metered`` gets a price, tagged with the line's
canonical id like any object revbridge writes (found again on the next write, never created
twice), and its item names that price instead of carrying ``price_data`` and a quantity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import WriteResult
from connectors.billing.stripe.objects import REVBRIDGE_ID, StripeObjects

METERED = "metered"


def is_metered(item: Mapping[str, Any]) -> bool:
    """True for a subscription item whose price is billed by reported usage."""
    recurring = (item.get("price_data") or {}).get("recurring") or {}
    return recurring.get("usage_type") == METERED


def with_metered_prices(
    objects: StripeObjects, items: Sequence[dict[str, Any]], write_token: str
) -> list[dict[str, Any]] | WriteResult:
    """``items`` with each metered one on its own price; the first price Stripe refused."""
    ready: list[dict[str, Any]] = []
    for item in items:
        if not is_metered(item):
            ready.append(item)
            continue
        line_id = str(item["metadata"][REVBRIDGE_ID])
        result = objects.upsert("prices", line_id, dict(item["price_data"]), write_token)
        if not result.ok or result.target_id is None:
            return result
        kept = {k: v for k, v in item.items() if k not in ("price_data", "quantity")}
        ready.append({**kept, "price": result.target_id})
    return ready
