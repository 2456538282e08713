"""The demo's subscription lifecycle: each CPQ event, the subscription's quantity after it, and
what billing and the ERP received.

The demo seeds one of each event CPQ writes (sandboxes/salesforce/cpq_lifecycle.py): a
subscription bought at 10, raised to 15, lowered to 12 and renewed for the next year; another
bought at 4 and cancelled at mid-term; and two add-ons of a third product, one starting
mid-month. For each event it prints the change CPQ wrote (the delta), the subscription's
quantity from that day (``mappings.subscription_state``, from what the runs captured), and per
target what it holds: the quantity billing's item schedule shows from that day (generic
profile), whether the event's records landed in the ERP, or why they wait. It ends with
what NetSuite holds: the open sales order lines per item of each contract, and the credit memo
the cancellation raised.

Only ``revbridge demo`` imports this (through :mod:`sync.cli.demo`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from rich.console import Console

from mappings.canonical import Subscription
from mappings.identity import canonical_id
from mappings.lifecycle_types import shown_quantity
from mappings.subscription_state import changes_by_subscription, state_on
from sync.cli.sandboxes import Sandboxes
from sync.store import Store
from sync.store.error_queue import list_errors
from sync.store.records import iter_stored, xref_entries
from sync.store.schema import ErrorStatus

TARGETS = ("billing", "erp")
# Events in the order CPQ wrote them, with how the demo names them.
EVENTS = {
    "new": "bought",
    "upsell": "upsell",
    "add_on": "add-on",
    "downgrade": "downgrade",
    "cancelled": "bought",
    "cancellation": "cancellation",
    "coterminated_add_on": "co-terminated add-on",
    "renewal": "renewal",
}
_REASON_CHARS = 90


@dataclass(frozen=True)
class LifecycleStep:
    """One CPQ event: the change, the quantity after it, and each target's state."""

    day: date
    event: str
    product: str
    change: Decimal
    quantity: Decimal
    targets: Mapping[str, str]


@dataclass
class LifecycleDemo:
    """The events in date order, and what NetSuite holds at the end."""

    steps: list[LifecycleStep] = field(default_factory=list)
    erp_lines: list[str] = field(default_factory=list)


def lifecycle_story(store: Store, sandboxes: Sandboxes) -> LifecycleDemo:
    """Read back what the runs made of the seeded lifecycle events."""
    salesforce = sandboxes.salesforce
    seeded = salesforce.lifecycle_subscription_ids
    subscriptions = {s["Id"]: s for s in salesforce.records("SBQQ__Subscription__c")}
    items = {i["Id"]: i for i in salesforce.records("OrderItem")}
    products = {p["Id"]: str(p["Name"]) for p in salesforce.records("Product2")}
    captured = _captured_subscriptions(store)
    history = changes_by_subscription(captured.values())
    roots = {change.record_id: root for root, changes in history.items() for change in changes}
    billed = _billing_subscriptions(sandboxes)
    demo = LifecycleDemo()
    order_ids: list[str] = []
    with store.engine.connect() as connection:
        errors = list_errors(connection, status=ErrorStatus.OPEN, limit=None)
        waiting = {(e.source_id, e.target_system): e.message for e in errors}
        for event, subscription_id in seeded.items():
            source = subscriptions[subscription_id]
            order_id = str(items[source["SBQQ__OrderProduct__c"]]["OrderId"])
            order_ids.append(order_id)
            record_ids = {
                canonical_id("subscription", "salesforce", subscription_id),
                canonical_id("order", "salesforce", order_id),
            }
            landed = {t: xref_entries(connection, t, record_ids) for t in TARGETS}
            day = date.fromisoformat(str(source["SBQQ__SubscriptionStartDate__c"]))
            own = canonical_id("subscription", "salesforce", subscription_id)
            root = roots.get(own)
            quantity = state_on(history[root], day).quantity if root else Decimal(0)
            targets = {
                t: _target_state(bool(landed[t]), waiting, (subscription_id, order_id), t)
                for t in TARGETS
            }
            held = _billed_quantity(billed.get(root or own), day)
            if held is not None and targets["billing"] == "landed":
                targets["billing"] = f"holds {shown_quantity(held)}"
            demo.steps.append(LifecycleStep(
                day, EVENTS.get(event, event), products.get(str(source["SBQQ__Product__c"]), "?"),
                Decimal(str(source["SBQQ__Quantity__c"])), quantity, targets,
            ))  # fmt: skip
    demo.steps.sort(key=lambda step: step.day)
    demo.erp_lines = _erp_holdings(sandboxes, products, order_ids)
    return demo


def _captured_subscriptions(store: Store) -> dict[str, Subscription]:
    with store.engine.connect() as connection:
        return {
            record.payload["id"]: Subscription.model_validate(record.payload)
            for batch in iter_stored(connection, "subscription")
            for record in batch
        }


def _billing_subscriptions(sandboxes: Sandboxes) -> dict[str, Mapping[str, Any]]:
    """The generic billing API's subscriptions by external id (none under another profile)."""
    rows = sandboxes.billing.resources("subscriptions")
    return {str(row.get("external_id")): row for row in rows}


def _billed_quantity(subscription: Mapping[str, Any] | None, day: date) -> Decimal | None:
    """The quantity billing's item schedule holds from ``day``, if it keeps one."""
    items = (subscription or {}).get("items") or []
    schedule = items[0].get("schedule") if items and isinstance(items[0], Mapping) else None
    if not schedule:
        return None
    ends = items[0].get("ends_at")
    if ends and str(ends) <= day.isoformat():
        return Decimal(0)
    current = [e for e in schedule if str(e.get("from", "")) <= day.isoformat()]
    return Decimal(str(current[-1]["quantity"])) if current else None


def _target_state(
    landed: bool, waiting: Mapping[tuple[str, str], str], source_ids: Iterable[str], target: str
) -> str:
    if landed:
        return "landed"
    for source_id in source_ids:
        message = waiting.get((source_id, target))
        if message is not None:
            short = message if len(message) <= _REASON_CHARS else message[:_REASON_CHARS] + "..."
            return f"waits: {short}"
    return "not sent"


def _erp_holdings(
    sandboxes: Sandboxes, products: Mapping[str, str], order_ids: Iterable[str]
) -> list[str]:
    """Open lines per item and year of the lifecycle's sales orders, summed, and the credit
    memos revbridge raised for them."""
    names = {canonical_id("product", "salesforce", p): name for p, name in products.items()}
    orders = {canonical_id("order", "salesforce", order_id) for order_id in order_ids}
    totals: dict[tuple[str, str], Decimal] = {}
    memos: list[str] = []
    for (record_type, external_id), record in sandboxes.erp.records.items():
        if record_type == "CreditMemo" and str(external_id).removesuffix("-credit") in orders:
            memos.append(_memo_line(record, names))
        if record_type != "SalesOrder" or external_id not in orders:
            continue
        year = str(record.get("startDate", ""))[:4]
        for line in _lines(record):
            if str(line.get("isClosed", "false")).lower() == "true":
                continue
            key = (names.get(str((line.get("item") or {}).get("externalId")), "?"), year)
            totals[key] = totals.get(key, Decimal(0)) + Decimal(str(line["quantity"]))
    held = [
        f"{name} ({year}): {shown_quantity(total)}"
        for (name, year), total in sorted(totals.items())
    ]
    return held + memos


def _lines(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((record.get("itemList") or {}).get("item") or [])


def _memo_line(record: Mapping[str, Any], names: Mapping[str, str]) -> str:
    parts = [
        f"{names.get(str((line.get('item') or {}).get('externalId')), '?')} "
        f"{shown_quantity(Decimal(str(line.get('quantity', 0))))} x "
        f"{line.get('rate')} = {line.get('amount')}"
        for line in _lines(record)
    ]
    return f"credit memo of {str(record.get('tranDate', ''))[:10]}: " + "; ".join(parts)


def print_lifecycle(demo: LifecycleDemo, console: Console) -> None:
    """The demo's lifecycle section: one line per event, then what NetSuite holds."""
    console.print(
        "\nOne of each CPQ lifecycle event, the subscription's quantity from its date, and "
        "what each target received:",
        highlight=False,
    )
    for step in demo.steps:
        states = "  ".join(f"{target}: {state}" for target, state in step.targets.items())
        console.print(
            f"  {step.day.isoformat()}  {step.event:<21} {step.product:<28} "
            f"{_signed(step.change):>4} -> {shown_quantity(step.quantity):>3}   {states}",
            markup=False,
            highlight=False,
        )
    if demo.erp_lines:
        console.print(
            "What NetSuite holds for them (open sales order lines per item and year, credit "
            "memos):",
            highlight=False,
        )
        for line in demo.erp_lines:
            console.print(f"  {line}", markup=False, highlight=False)


def _signed(quantity: Decimal) -> str:
    shown = shown_quantity(quantity)
    return shown if quantity < 0 else f"+{shown}"
