"""Subscription items with dated quantity changes, as the generic billing API models a lifecycle.

A subscription is written once (``quantity`` > 0) and changed by *change records*: a
subscription body whose ``revises`` names the original's billing id, with a signed
``quantity`` (the delta, never 0) that applies from its ``effective_date``, and optionally a
``cancel_at`` (the day the subscription ends). Changes are upserted by their own external id,
so a change sent twice is one change, and the original's item is rebuilt from all of them in
effective-date order, whatever order they arrived in::

    "items": [{"product": "prod_...", "quantity_changes": [...],
               "schedule": [{"from": "2026-01-01", "quantity": "10"}, ...],
               "ends_at": "2026-07-01" | null}]

What the API still refuses, each with its reason: an original with a quantity of 0 or less, a
change of 0, and a change of a change or of another product. A change that would take the
quantity below 0 on some date is held at 0 there and named in the item's ``problems``: it may
be a decrease that arrived before the increase it undoes, and the schedule is whole once that
lands. An order's line may lower a quantity only on an amendment or cancellation order, and
a quote's line be 0 only where it removes a product it had (``prior_quantity``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sandboxes.billing.rules import ApiError

# Fields the API computes on an original subscription; never part of a request.
COMPUTED = ("items",)
_LOWERING_ORDERS = ("amendment", "cancellation")


def check_subscription(body: Mapping[str, Any], original: Mapping[str, Any] | None) -> None:
    """Refuse an original whose quantity is not > 0, or a change ``original`` cannot take.

    ``original`` is the stored subscription ``body`` revises (None for an original).
    """
    quantity = Decimal(str(body["quantity"]))
    if original is None:
        if quantity <= 0:
            message = "quantity must be > 0 on a subscription; a change names what it revises"
            raise ApiError(400, "parameter_invalid", "quantity", message)
        return
    if original.get("revises") is not None:
        message = f"{original['id']} is itself a change; revise the original {original['revises']}"
        raise ApiError(400, "parameter_invalid", "revises", message)
    if original["product"] != body.get("product"):
        message = f"a change of {original['id']} must be of its product {original['product']}"
        raise ApiError(400, "parameter_invalid", "product", message)


def check_order(body: Mapping[str, Any]) -> None:
    """Refuse a line that lowers a quantity on an order that is no amendment or cancellation."""
    kind = body.get("type") or "new"
    for index, line in enumerate(body.get("lines") or []):
        if Decimal(str(line.get("quantity") or 1)) < 0 and kind not in _LOWERING_ORDERS:
            message = f"a {kind} order cannot lower a quantity; only amendments and cancellations"
            raise ApiError(400, "parameter_invalid", f"lines[{index}][quantity]", message)


def check_quote(body: Mapping[str, Any]) -> None:
    """Refuse a quote line of quantity 0 unless it removes a product it had (a prior quantity)."""
    for index, line in enumerate(body.get("lines") or []):
        if Decimal(str(line["quantity"])) == 0 and not Decimal(
            str(line.get("prior_quantity") or 0)
        ):
            message = (
                "must be a decimal string > 0; 0 only on an amendment line with a prior quantity"
            )
            raise ApiError(400, "parameter_invalid", f"lines[{index}][quantity]", message)


def _ordered(changes: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # Effective date, then additions before removals, then id: arrival order never matters.
    return sorted(
        changes,
        key=lambda c: (str(c.get("effective_date") or ""), -Decimal(str(c["quantity"])),
                       str(c.get("external_id") or "")),
    )  # fmt: skip


def _schedule(
    original: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, str]], list[str]]:
    """The quantity from each date on, and the changes that would take it below 0 (held at 0:
    a decrease can arrive before the increase it undoes)."""
    quantity = Decimal(str(original["quantity"]))
    steps = [{"from": str(original["current_period_start"]), "quantity": str(quantity)}]
    problems: list[str] = []
    for change in _ordered(changes):
        start = str(change.get("effective_date") or original["current_period_start"])
        quantity += Decimal(str(change["quantity"]))
        if quantity < 0:
            problems.append(f"{change.get('id', 'a change')} on {start} takes it to {quantity}")
            quantity = Decimal(0)
        if steps[-1]["from"] == start:
            steps[-1]["quantity"] = str(quantity)
        else:
            steps.append({"from": start, "quantity": str(quantity)})
    return steps, problems


def item_of(original: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The original's subscription item from its stored changes: schedule and end."""
    ends = [str(day) for day in (original.get("cancel_at"), *(c.get("cancel_at") for c in changes))
            if day]  # fmt: skip
    listed = [
        {
            "change": change["id"],
            "effective_date": change.get("effective_date"),
            "quantity": change["quantity"],
            "proration_multiplier": change.get("proration_multiplier"),
        }
        for change in _ordered(changes)
    ]
    steps, problems = _schedule(original, changes)
    return {
        "product": original["product"],
        "quantity_changes": listed,
        "schedule": steps,
        "ends_at": min(ends) if ends else None,
        "problems": problems,
    }
