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

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import BillingSettings, RetrySettings, Settings
from connectors.base import WriteSpec
from connectors.billing.connector import BillingConnector
from connectors.billing.stripe.profile import StripeProfile
from connectors.billing.stripe.terms import OrderTerms
from mappings.identity import canonical_id
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import MappingSet
from sandboxes.billing.sandbox import BillingSandbox
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.error_queue import ErrorRow, list_errors
from sync.store.records import xref_entries
from sync.store.schema import ErrorStatus
from tests.integration.cpq_harness import cpq_sandboxes, run_flow
from tests.integration.test_billing_stripe import _conforms as conforms

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
            "problems": [],
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


# --- Stripe profile ------------------------------------------------------------------------

STRIPE_PROFILE = Path(__file__).resolve().parents[2] / "mappings/profiles/stripe"
# After the lifecycle's changes and before its term ends: the 2026 orders are running, the
# renewal's term is ahead.
NOW = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)


def stamp(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@pytest.fixture
def stripe_mappings() -> MappingSet:
    # The default salesforce.yaml beside the profile's billing.yaml and erp.yaml.
    chosen = {path.name: path for path in shipped_mapping_files()}
    chosen |= {path.name: path for path in sorted(STRIPE_PROFILE.glob("*.yaml"))}
    return load_mapping_set(list(chosen.values()))


def stripe_settings(sandboxes: Sandboxes, store: Store) -> Settings:
    billing = sandboxes.billing
    stripe = BillingSettings(
        base_url=billing.stripe_url, api_key=SecretStr(billing.api_key), profile="stripe",
        auth="basic",
    )  # fmt: skip
    return sandboxes.settings(store.url).model_copy(update={"billing": stripe})


def run_stripe(
    sandboxes: Sandboxes, store: Store, mappings: MappingSet, flow: Flow = QUOTE_TO_BILLING
) -> RunSummary:
    """One run of ``flow`` with billing in Stripe, the order clock at ``NOW``."""
    settings = stripe_settings(sandboxes, store)
    profile = StripeProfile("auto", OrderTerms(now=lambda: NOW))
    with open_connectors(settings) as connectors:
        connectors["billing"].close()
        connectors["billing"] = BillingConnector(
            settings.billing, settings.retry, wait=lambda _: None, profile=profile
        )
        return SyncEngine(store, mappings, connectors, flow).run()


def order_subscription(sandboxes: Sandboxes, store: Store, event: str) -> dict[str, Any]:
    """The Stripe subscription of the order that sold ``event``'s subscription record."""
    salesforce = sandboxes.salesforce
    source = salesforce.lifecycle_subscription_ids[event]
    [record] = [s for s in salesforce.records("SBQQ__Subscription__c") if s["Id"] == source]
    [item] = [
        i for i in salesforce.records("OrderItem") if i["Id"] == record["SBQQ__OrderProduct__c"]
    ]
    stripe_id = billing_id(store, "order", sandboxes, item["OrderId"])
    [found] = [s for s in sandboxes.billing.stripe_objects("subscriptions") if s["id"] == stripe_id]
    return found


def quantities(subscription: dict[str, Any]) -> dict[str, int | None]:
    return {item["price"]["product"]: item["quantity"] for item in subscription["items"]["data"]}


def prorations(sandboxes: Sandboxes, subscription: dict[str, Any]) -> list[tuple[int, int]]:
    """(period start, quantity) of the proration items Stripe holds for ``subscription``."""
    return sorted(
        (item["period"]["start"], item["quantity"])
        for item in sandboxes.billing.stripe_objects("invoiceitems")
        if item.get("proration") and item.get("subscription") == subscription["id"]
    )


def stripe_product(store: Store, sandboxes: Sandboxes, event: str) -> str:
    salesforce = sandboxes.salesforce
    source = salesforce.lifecycle_subscription_ids[event]
    [record] = [s for s in salesforce.records("SBQQ__Subscription__c") if s["Id"] == source]
    return billing_id(store, "product", sandboxes, record["SBQQ__Product__c"])


def assert_stripe_end_state(sandboxes: Sandboxes, store: Store) -> None:
    bought = order_subscription(sandboxes, store, "new")
    product_a = stripe_product(store, sandboxes, "new")
    product_c = stripe_product(store, sandboxes, "add_on")
    # 10 + 5 - 3, and the add-ons co-terminated on the same subscription: 2 + 3.
    assert quantities(bought) == {product_a: 12, product_c: 5}
    assert (bought["status"], bought["cancel_at"]) == ("active", stamp(date(2027, 1, 1)))
    changes = prorations(sandboxes, bought)
    assert (stamp(date(2026, 3, 1)), 5) in changes
    assert (stamp(date(2026, 5, 1)), -3) in changes
    assert (stamp(date(2026, 4, 1)), 2) in changes
    cancelled = order_subscription(sandboxes, store, "cancelled")
    # Cancelled at its effective date; what was billed after it comes back as a proration.
    assert cancelled["cancel_at"] == stamp(date(2026, 7, 1))
    assert prorations(sandboxes, cancelled) == [(stamp(date(2026, 7, 1)), -4)]
    renewal = order_subscription(sandboxes, store, "renewal")
    assert renewal["id"] not in (bought["id"], cancelled["id"])
    assert quantities(renewal) == {product_a: 12}
    assert (renewal["billing_cycle_anchor"], renewal["cancel_at"]) == (
        stamp(date(2027, 1, 1)),
        stamp(date(2028, 1, 1)),
    )


def test_stripe_ends_with_each_subscriptions_quantity_dates_and_proration(
    sandboxes: Sandboxes, store: Store, stripe_mappings: MappingSet, reference_dir: Path
) -> None:
    run_stripe(sandboxes, store, stripe_mappings)

    assert_no_lifecycle_errors(store, sandboxes)
    assert_stripe_end_state(sandboxes, store)
    updates = [
        r for r in sandboxes.billing.stripe_requests
        if r.method == "POST" and r.path.startswith("/v1/subscriptions/")
    ]  # fmt: skip
    assert {(r.sent("proration_behavior"), r.sent("proration_date")) for r in updates} >= {
        ("create_prorations", str(stamp(date(2026, 3, 1)))),
        ("create_prorations", str(stamp(date(2026, 5, 1)))),
        ("create_prorations", str(stamp(date(2026, 7, 1)))),
    }
    spec = json.loads((reference_dir / "stripe-openapi" / "spec3.json").read_text())
    requests = sandboxes.billing.stripe_requests
    assert [problem for request in requests for problem in conforms(spec, request)] == []


def test_stripe_reaches_the_same_end_state_when_captured_newest_first(
    sandboxes: Sandboxes, store: Store, stripe_mappings: MappingSet
) -> None:
    capture_newest_first(sandboxes)
    summary = run_stripe(sandboxes, store, stripe_mappings)

    assert summary.counts("order", "salesforce").deferred >= 3
    assert_no_lifecycle_errors(store, sandboxes)
    assert_stripe_end_state(sandboxes, store)


def test_a_second_run_changes_nothing_in_stripe(
    sandboxes: Sandboxes, store: Store, stripe_mappings: MappingSet
) -> None:
    run_stripe(sandboxes, store, stripe_mappings)
    writes = sandboxes.billing.stripe_writes
    # Every record edited in Salesforce: each is mapped and sent again, and each change is
    # recognised as applied already.
    capture_newest_first(sandboxes)
    run_stripe(sandboxes, store, stripe_mappings)

    assert_stripe_end_state(sandboxes, store)
    assert (
        sandboxes.billing.stripe_writes["invoiceitems", "created"]
        == writes["invoiceitems", "created"]
    )


def test_quote_to_cash_lands_the_lifecycle_in_billing_and_the_erp_with_nothing_queued(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    run_flow(sandboxes, store, mapping_set, QUOTE_TO_CASH, page_size=PAGE)

    assert_no_lifecycle_errors(store, sandboxes)
    assert_generic_end_state(sandboxes)


def test_quote_to_cash_with_stripe_lands_the_lifecycle_with_nothing_queued(
    sandboxes: Sandboxes, store: Store, stripe_mappings: MappingSet
) -> None:
    run_stripe(sandboxes, store, stripe_mappings, QUOTE_TO_CASH)

    assert_no_lifecycle_errors(store, sandboxes)
    assert_stripe_end_state(sandboxes, store)


# --- an amendment whose original is not in billing yet ------------------------------------


def hide_for_one_run(sandboxes: Sandboxes, object_name: str, record_id: str, run: Any) -> None:
    """Run once with ``record_id`` in the recycle bin, then restore it."""
    sandboxes.salesforce.delete_record(object_name, record_id)
    run()
    sandboxes.salesforce.undelete_record(object_name, record_id)


def waiting(store: Store, entity: str) -> dict[str, tuple[str, str]]:
    return {e.source_id: (e.stage, e.message) for e in open_errors(store) if e.entity == entity}


def test_generic_amendments_of_a_subscription_not_in_billing_wait_for_it_then_land(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    ids = sandboxes.salesforce.lifecycle_subscription_ids

    def run() -> None:
        run_flow(sandboxes, store, mapping_set, QUOTE_TO_BILLING, page_size=PAGE)

    hide_for_one_run(sandboxes, "SBQQ__Subscription__c", ids["new"], run)
    held = waiting(store, "subscription")
    for event in ("upsell", "downgrade"):
        stage, message = held[ids[event]]
        assert (stage, "not synced yet" in message) == ("resolve", True)
    run()

    assert_no_lifecycle_errors(store, sandboxes)
    assert_generic_end_state(sandboxes)


def test_stripe_amendments_of_an_order_not_in_stripe_wait_for_it_then_land(
    sandboxes: Sandboxes, store: Store, stripe_mappings: MappingSet
) -> None:
    salesforce = sandboxes.salesforce
    source = salesforce.lifecycle_subscription_ids["new"]
    [record] = [s for s in salesforce.records("SBQQ__Subscription__c") if s["Id"] == source]
    item_id = record["SBQQ__OrderProduct__c"]
    [item] = [i for i in salesforce.records("OrderItem") if i["Id"] == item_id]

    def run() -> None:
        run_stripe(sandboxes, store, stripe_mappings)

    hide_for_one_run(sandboxes, "Order", item["OrderId"], run)
    lifecycle = lifecycle_sources(sandboxes)
    held = {k: v for k, v in waiting(store, "order").items() if k in lifecycle}
    assert len(held) >= 3  # the upsell, the downgrade and the add-ons of the hidden order
    assert {stage for stage, _ in held.values()} == {"resolve"}
    assert all("not synced yet" in message for _, message in held.values())
    run()

    assert_no_lifecycle_errors(store, sandboxes)
    assert_stripe_end_state(sandboxes, store)


# --- charge types in Stripe ----------------------------------------------------------------


def test_stripe_invoices_a_one_time_fee_once_and_bills_usage_on_a_metered_price(
    reference_dir: Path,
) -> None:
    with BillingSandbox() as billing:
        settings = BillingSettings(
            base_url=billing.stripe_url, api_key=SecretStr(billing.api_key), profile="stripe",
            auth="basic",
        )  # fmt: skip
        profile = StripeProfile("auto", OrderTerms(now=lambda: NOW))
        connector = BillingConnector(settings, RetrySettings(), wait=lambda _: None,
                                     profile=profile)  # fmt: skip
        try:
            acme = {"external_id": "acc-1", "name": "Acme"}
            [customer] = connector.write(WriteSpec("customers", "external_id"), [acme])
            platform = {"external_id": "prod-1", "name": "Platform"}
            [product] = connector.write(WriteSpec("products", "external_id"), [platform])
            yearly = {"interval": "year"}
            usage = {**yearly, "usage_type": "metered"}
            line = {"product": product.target_id, "unit_amount": Decimal("40"), "quantity": 10}
            order = {
                "external_id": "ord-1", "customer": customer.target_id, "currency": "USD",
                "status": "activated", "start_date": "2026-01-01", "end_date": "2026-12-31",
                "lines": [
                    {**line, "external_id": "l-1", "recurring": yearly},
                    {**line, "external_id": "l-2", "quantity": 1},  # the set-up fee
                    {**line, "external_id": "l-3", "recurring": usage},
                ],
            }  # fmt: skip
            [first] = connector.write(WriteSpec("orders", "external_id"), [order])
            [again] = connector.write(WriteSpec("orders", "external_id"), [order])
        finally:
            connector.close()
        requests = billing.stripe_requests
        [subscription] = billing.stripe_objects("subscriptions")
        fees = billing.stripe_objects("invoiceitems")
        prices = billing.stripe_objects("prices")

    assert (first.ok, again.ok) == (True, True), (first.error_message, again.error_message)
    items = {i["metadata"]["revbridge_id"]: i for i in subscription["items"]["data"]}
    assert sorted(items) == ["l-1", "l-3"]
    assert (items["l-1"]["quantity"], items["l-3"]["quantity"]) == (10, None)
    assert items["l-3"]["price"]["recurring"]["usage_type"] == "metered"
    # Written twice, still one fee and one metered price: found again by their tags.
    assert [(f["metadata"]["revbridge_id"], f["quantity"]) for f in fees] == [("l-2", 1)]
    assert [p["metadata"]["revbridge_id"] for p in prices] == ["l-3"]
    spec = json.loads((reference_dir / "stripe-openapi" / "spec3.json").read_text())
    assert [problem for request in requests for problem in conforms(spec, request)] == []
