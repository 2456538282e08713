"""Subscription lifecycles reach billing over the real wire, on SQLite and PostgreSQL.

The Salesforce sandbox seeds CPQ's records (sandboxes/salesforce/cpq_lifecycle.py): product A
bought at 10 on 2026-01-01, raised to 15 on 03-01, lowered to 12 on 05-01 and renewed at 12
for 2027; product B bought at 4 and cancelled on 07-01. Billing must end with each
subscription's quantity on every date, its end and its proration, with nothing in the error
queue, and the same end state when the records are captured newest first.

- generic profile: each amendment is a dated quantity change of the subscription it revises
  (sandboxes/billing/lifecycle.py rebuilds the subscription's item from its changes);
- Stripe profile: the order's subscription item takes the new quantity with
  ``proration_behavior`` and ``proration_date``, a cancellation sets ``cancel_at``, the renewal
  order starts the next term; every request is held against Stripe's OpenAPI spec.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mappings.identity import canonical_id
from mappings.mapping_set import MappingSet
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import Flow
from sync.store import Store
from sync.store.error_queue import ErrorRow, list_errors
from sync.store.records import xref_entries
from sync.store.schema import ErrorStatus
from tests.integration.cpq_harness import cpq_sandboxes, run_flow

SIZE = SandboxSize(accounts=4, orders=10, products=3, page_size=200, lifecycles=True)
PAGE = 200
QUOTE_TO_BILLING = Flow(name="quote-to-billing", source="salesforce", targets=("billing",))
# Newest event first: each record re-stamped in this order is captured before the ones after.
REVERSED = ("cancellation", "cancelled", "renewal", "downgrade", "upsell", "new")


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def open_errors(store: Store) -> list[ErrorRow]:
    with store.engine.connect() as connection:
        return list_errors(connection, status=ErrorStatus.OPEN, limit=None)


def lifecycle_sources(sandboxes: Sandboxes) -> set[str]:
    """Every Salesforce id the seeded lifecycles wrote: subscriptions, order products, orders."""
    salesforce = sandboxes.salesforce
    subscriptions = set(salesforce.lifecycle_subscription_ids.values())
    items = {
        s["SBQQ__OrderProduct__c"]
        for s in salesforce.records("SBQQ__Subscription__c")
        if s["Id"] in subscriptions
    }
    orders = {i["OrderId"] for i in salesforce.records("OrderItem") if i["Id"] in items}
    lines = {
        s["SBQQ__QuoteLine__c"]
        for s in salesforce.records("SBQQ__Subscription__c")
        if s["Id"] in subscriptions
    }
    quotes = {
        q["SBQQ__Quote__c"] for q in salesforce.records("SBQQ__QuoteLine__c") if q["Id"] in lines
    }
    return subscriptions | items | orders | lines | quotes


def capture_newest_first(sandboxes: Sandboxes) -> None:
    """Re-stamp the lifecycle's records newest event first, so a run reads them in reverse."""
    salesforce = sandboxes.salesforce
    subscriptions = {s["Id"]: s for s in salesforce.records("SBQQ__Subscription__c")}
    for event in REVERSED:
        subscription = subscriptions[salesforce.lifecycle_subscription_ids[event]]
        item_id = subscription["SBQQ__OrderProduct__c"]
        salesforce.update_record("SBQQ__Subscription__c", subscription["Id"], {})
        # An order product's edit re-stamps its order too.
        salesforce.update_record("OrderItem", item_id, {})


def billing_id(store: Store, entity: str, sandboxes: Sandboxes, source_id: str) -> str:
    record_id = canonical_id(entity, "salesforce", source_id)
    with store.engine.connect() as connection:
        return xref_entries(connection, "billing", [record_id])[record_id].external_id


def assert_no_lifecycle_errors(store: Store, sandboxes: Sandboxes) -> None:
    lifecycle = lifecycle_sources(sandboxes)
    errors = [(e.entity, e.source_id, e.stage, e.message) for e in open_errors(store)]
    assert [e for e in errors if e[1] in lifecycle] == []


# --- generic profile -----------------------------------------------------------------------


def generic_end_state(sandboxes: Sandboxes) -> dict[str, Any]:
    """Each lifecycle subscription as billing holds it, by event name; server ids left out."""
    subscriptions = {s["external_id"]: s for s in sandboxes.billing.resources("subscriptions")}
    ids = sandboxes.salesforce.lifecycle_subscription_ids
    state: dict[str, Any] = {}
    for event, source_id in ids.items():
        row = subscriptions[canonical_id("subscription", "salesforce", source_id)]
        items = [
            {
                **item,
                "quantity_changes": [
                    {k: v for k, v in change.items() if k != "change"}
                    for change in item["quantity_changes"]
                ],
            }
            for item in row.get("items") or []
        ]
        state[event] = {
            "quantity": row["quantity"],
            "period": (row["current_period_start"], row.get("current_period_end")),
            "cancel_at": row.get("cancel_at"),
            "renewed_at": row.get("renewed_at"),
            "revises": row.get("revises") is not None,
            "items": items,
        }
    return state


def assert_generic_end_state(sandboxes: Sandboxes) -> None:
    state = generic_end_state(sandboxes)
    bought = state["new"]["items"]
    assert bought == [
        {
            "product": bought[0]["product"],
            "quantity_changes": [
                {"effective_date": "2026-03-01", "quantity": "5.0",
                 "proration_multiplier": "0.8333"},
                {"effective_date": "2026-05-01", "quantity": "-3.0",
                 "proration_multiplier": "0.6667"},
            ],
            "schedule": [
                {"from": "2026-01-01", "quantity": "10.0"},
                {"from": "2026-03-01", "quantity": "15.0"},
                {"from": "2026-05-01", "quantity": "12.0"},
            ],
            "ends_at": None,
        }
    ]  # fmt: skip
    assert state["new"]["renewed_at"] == "2027-01-01"
    cancelled = state["cancelled"]["items"][0]
    assert cancelled["schedule"] == [
        {"from": "2026-01-01", "quantity": "4.0"},
        {"from": "2026-07-01", "quantity": "0.0"},
    ]
    assert cancelled["ends_at"] == "2026-07-01"
    # The renewal is a subscription of its own for the next term, changed by nothing.
    renewal = state["renewal"]
    assert (renewal["quantity"], renewal["period"], renewal["revises"]) == (
        "12.0",
        ("2027-01-01", "2027-12-31"),
        False,
    )
    assert renewal["items"][0]["schedule"] == [{"from": "2027-01-01", "quantity": "12.0"}]
    # The changes are subscriptions of their own in billing, each naming the original.
    assert [state[e]["revises"] for e in ("upsell", "downgrade", "cancellation")] == [True] * 3
    # The amendment orders reach billing with their signed change lines.
    orders = [o for o in sandboxes.billing.resources("orders") if o.get("type") == "amendment"]
    changes = [line for o in orders for line in o["lines"] if line.get("revises")]
    assert {"-3.0", "-4.0", "5.0"} <= {line["quantity"] for line in changes}
    lowering = [line for o in orders for line in o["lines"] if line["quantity"].startswith("-")]
    assert lowering
    assert all(line in changes for line in lowering)


def test_generic_billing_ends_with_each_subscriptions_quantity_dates_and_proration(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    run_flow(sandboxes, store, mapping_set, QUOTE_TO_BILLING, page_size=PAGE)

    assert_no_lifecycle_errors(store, sandboxes)
    assert_generic_end_state(sandboxes)


def test_generic_billing_reaches_the_same_end_state_when_captured_newest_first(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    capture_newest_first(sandboxes)
    summary = run_flow(sandboxes, store, mapping_set, QUOTE_TO_BILLING, page_size=PAGE)

    # The changes came before their original: each waited for it and landed in the same run.
    assert summary.counts("subscription", "salesforce").deferred >= 3
    assert_no_lifecycle_errors(store, sandboxes)
    assert_generic_end_state(sandboxes)
