"""Subscription lifecycles as CPQ writes them, over the real wire on SQLite and PostgreSQL.

The Salesforce sandbox seeds a subscription bought at 10, raised to 15, lowered to 12 and
renewed, and another bought at 4 and cancelled at mid-term (sandboxes/salesforce/
cpq_lifecycle.py). A downgrade or a cancellation is a record holding a negative delta: it must
land, not sit in the error queue, while a negative quantity that revises nothing still does.

The flow writes to the ERP only: the generic billing API refuses a quantity <= 0, and turning
a delta into a quantity change of the billing subscription is the next slice of issue 17.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from mappings.canonical import Subscription
from mappings.identity import canonical_id
from mappings.mapping_set import MappingSet
from mappings.subscription_state import changes_by_subscription, state_on
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import Flow
from sync.engine.run import SyncEngine
from sync.store import Store
from sync.store.error_queue import ErrorRow, list_errors
from sync.store.schema import ErrorStatus
from tests.integration.cpq_harness import cpq_sandboxes, run_flow, stored_payloads

SIZE = SandboxSize(accounts=4, orders=10, products=3, page_size=200, lifecycles=True)
PAGE = 200
QUOTE_TO_ERP = Flow(name="quote-to-erp", source="salesforce", targets=("erp",))


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def _open_errors(store: Store) -> list[ErrorRow]:
    with store.engine.connect() as connection:
        return list_errors(connection, status=ErrorStatus.OPEN, limit=None)


def _subscription_id(sandboxes: Sandboxes, event: str) -> str:
    return sandboxes.salesforce.lifecycle_subscription_ids[event]


def _lifecycle_sources(sandboxes: Sandboxes) -> set[str]:
    """Every Salesforce id the seeded lifecycles wrote: subscriptions, order products, orders."""
    salesforce = sandboxes.salesforce
    subscriptions = set(salesforce.lifecycle_subscription_ids.values())
    items = {
        s["SBQQ__OrderProduct__c"]
        for s in salesforce.records("SBQQ__Subscription__c")
        if s["Id"] in subscriptions
    }
    orders = {i["OrderId"] for i in salesforce.records("OrderItem") if i["Id"] in items}
    return subscriptions | items | orders


def test_downgrades_and_cancellations_land_while_unlinked_negatives_are_queued(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    summary = run_flow(sandboxes, store, mapping_set, QUOTE_TO_ERP, page_size=PAGE)

    errors = _open_errors(store)
    lifecycle = _lifecycle_sources(sandboxes)
    assert [(e.entity, e.source_id, e.message) for e in errors if e.source_id in lifecycle] == []
    # CPQ stamps the cancelled original after its cancellation: that record came first, waited
    # for its original (deferred) and landed once the original had.
    assert summary.counts("subscription", "salesforce").deferred >= 1
    subscriptions = stored_payloads(store, "subscription")
    cancelled = canonical_id("subscription", "salesforce", _subscription_id(sandboxes, "cancelled"))
    cancellation = subscriptions[
        canonical_id("subscription", "salesforce", _subscription_id(sandboxes, "cancellation"))
    ]
    assert (cancellation["quantity"], cancellation["revised_subscription_id"]) == (
        "-4.0",
        cancelled,
    )
    # The downgrade order holds the delta line, negative, and names the subscription.
    orders = stored_payloads(store, "order")
    amendments = [o for o in orders.values() if o["order_type"] == "amendment"]
    assert sorted(Decimal(o["lines"][0]["quantity"]) for o in amendments) == [-4, -3, 2, 3, 5]
    # Each amendment names the contract's original order; a revising line the order product it
    # revises (by line number) and the subscription's quantity after the change.
    originals = {o["id"]: o for o in orders.values() if o["order_type"] == "new"}
    assert all(o["revised_order_id"] in originals for o in amendments)
    revisions = {
        Decimal(line["quantity"]): (
            line["revised_line_number"],
            Decimal(line["resulting_quantity"]),
        )
        for line in (o["lines"][0] for o in amendments)
    }
    bought_line = originals[amendments[0]["revised_order_id"]]["lines"][0]["line_number"]
    assert revisions[Decimal(5)] == (bought_line, 15)
    assert revisions[Decimal(-3)] == (bought_line, 12)
    assert revisions[Decimal(-4)][1] == 0
    assert revisions[Decimal(2)] == (None, 2)  # an add-on revises nothing
    # Genuinely wrong negatives (the seed's bad records) still wait, each with its reason.
    invalid = sandboxes.salesforce.invalid_record_ids
    negative = [i for i, why in invalid.items() if "negative Quantity" in why]
    reasons = {e.source_id: e.message for e in errors}
    assert negative
    for order_id in negative:
        assert "but the line revises nothing: only an amendment line" in reasons[order_id]


def test_the_captured_records_give_each_subscriptions_state_on_any_date(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    run_flow(sandboxes, store, mapping_set, QUOTE_TO_ERP, page_size=PAGE)

    records = [
        Subscription.model_validate(p) for p in stored_payloads(store, "subscription").values()
    ]
    grouped = changes_by_subscription(records)
    bought = canonical_id("subscription", "salesforce", _subscription_id(sandboxes, "new"))
    cancelled = canonical_id("subscription", "salesforce", _subscription_id(sandboxes, "cancelled"))
    quantities = [state_on(grouped[bought], date(2026, m, 1)).quantity for m in (1, 3, 5, 12)]
    assert quantities == [10, 15, 12, 12]
    assert state_on(grouped[cancelled], date(2026, 6, 30)).quantity == 4
    assert state_on(grouped[cancelled], date(2026, 7, 1)).quantity == 0


def _hide_the_original_for_one_run(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> tuple[str, set[str]]:
    """Run once with the original subscription in the recycle bin, so its amendments arrive
    alone; then restore it and run again. Returns the original's id and the amendments'."""
    salesforce = sandboxes.salesforce
    original = _subscription_id(sandboxes, "new")
    amendments = {_subscription_id(sandboxes, "upsell"), _subscription_id(sandboxes, "downgrade")}
    salesforce.delete_record("SBQQ__Subscription__c", original)
    first = run_flow(sandboxes, store, mapping_set, QUOTE_TO_ERP, page_size=PAGE)
    waiting = {e.source_id: e for e in _open_errors(store) if e.entity == "subscription"}
    assert amendments <= waiting.keys()
    for amendment in amendments:
        assert (waiting[amendment].stage, waiting[amendment].message) == ("resolve", (
            f"revised_subscription_id: referenced subscription {original!r} (salesforce) is "
            "not synced yet"
        ))  # fmt: skip
    # The cancellation waits too, within the run: CPQ stamped its original after it.
    assert first.counts("subscription", "salesforce").deferred == len(amendments) + 1
    salesforce.undelete_record("SBQQ__Subscription__c", original)
    run_flow(sandboxes, store, mapping_set, QUOTE_TO_ERP, page_size=PAGE)
    return original, amendments


def _quantities_of(store: Store, original: str) -> list[Decimal]:
    original_id = canonical_id("subscription", "salesforce", original)
    return sorted(
        Decimal(s["quantity"])
        for s in stored_payloads(store, "subscription").values()
        if original_id in (s["id"], s["revised_subscription_id"])
    )


def test_an_amendment_that_landed_with_its_original_is_unchanged_by_a_manual_retry(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    original, amendments = _hide_the_original_for_one_run(sandboxes, store, mapping_set)
    # The run that captured the original also retried what waited for it, at its end.
    assert _quantities_of(store, original) == [-3, 5, 10]

    settings = sandboxes.settings(store.url)
    with open_connectors(settings) as connectors:
        SyncEngine(store, mapping_set, connectors, QUOTE_TO_ERP).retry(
            {"subscription": sorted(amendments)}
        )

    lifecycle = _lifecycle_sources(sandboxes)
    assert [(e.entity, e.source_id, e.message) for e in _open_errors(store)
            if e.source_id in lifecycle] == []  # fmt: skip
    assert _quantities_of(store, original) == [-3, 5, 10]


def test_an_amendment_captured_a_run_before_its_original_lands_on_the_next_run_by_itself(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    original, _amendments = _hide_the_original_for_one_run(sandboxes, store, mapping_set)
    run_flow(sandboxes, store, mapping_set, QUOTE_TO_ERP, page_size=PAGE)

    assert _quantities_of(store, original) == [-3, 5, 10]
