"""Salesforce -> Stripe-profile billing -> ERP with the Stripe mapping set, end to end.

The configuration's ``mappings_dir`` is a folder holding the default salesforce.yaml beside
``mappings/profiles/stripe/``'s billing.yaml and erp.yaml, as a user would assemble it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import BillingSettings, Settings
from mappings.loader import shipped_mapping_files
from sandboxes.billing.sandbox import BillingSandbox
from sync.cli.common import mappings_for
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.records import iter_stored
from tests.integration.stripe_orders import current_orders

SIZE = SandboxSize(accounts=5, orders=24, products=4, invalid_records=False, page_size=200)
STRIPE_PROFILE = Path(__file__).resolve().parents[2] / "mappings/profiles/stripe"


@pytest.fixture
def mappings_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    for path in [*shipped_mapping_files(), *sorted(STRIPE_PROFILE.glob("*.yaml"))]:
        shutil.copy(path, folder / path.name)  # the profile's files replace the defaults
    return folder


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        # Orders running today: an ended one gets no subscription (Stripe cannot start it).
        current_orders(running)
        yield running


def _activated_orders(sandboxes: Sandboxes) -> int:
    """Orders that become subscriptions: drafts write nothing, cancelled ones none to cancel."""
    return sum(1 for o in sandboxes.salesforce.records("Order") if o["Status"] == "Activated")


class StripeHarness:
    """Runs quote-to-cash against the sandboxes with billing speaking Stripe."""

    def __init__(self, sandboxes: Sandboxes, database_url: str, mappings_dir: Path) -> None:
        billing = sandboxes.billing
        stripe = BillingSettings(
            base_url=billing.stripe_url,
            api_key=SecretStr(billing.api_key),
            profile="stripe",
            auth="basic",
        )
        base = sandboxes.settings(database_url)
        self.settings: Settings = base.model_copy(
            update={"billing": stripe, "mappings_dir": mappings_dir}
        )
        self.billing: BillingSandbox = billing
        self.erp = sandboxes.erp
        self.store = Store(database_url)
        self.activated = _activated_orders(sandboxes)

    def run(self) -> RunSummary:
        mapping_set = mappings_for(self.settings)
        with open_connectors(self.settings) as connectors:
            engine = SyncEngine(self.store, mapping_set, connectors, QUOTE_TO_CASH)
            return engine.run()

    def downstream_writes(self) -> tuple[int, int]:
        return sum(self.billing.stripe_writes.values()), sum(self.erp.upsert_count.values())


@pytest.fixture
def harness(sandboxes: Sandboxes, database_url: str, mappings_dir: Path) -> Iterator[StripeHarness]:
    running = StripeHarness(sandboxes, database_url, mappings_dir)
    yield running
    running.store.close()


def test_customers_products_prices_and_orders_land_in_stripe_and_the_erp(
    harness: StripeHarness,
) -> None:
    summary = harness.run()

    assert summary.rejected == 0, summary.message
    billing = harness.billing
    customers = billing.stripe_objects("customers")
    products = billing.stripe_objects("products")
    prices = [p for p in billing.stripe_objects("prices") if "revbridge_id" in p["metadata"]]
    subscriptions = billing.stripe_objects("subscriptions")
    assert (len(customers), len(products)) == (SIZE.accounts, SIZE.products)
    # One price per product and currency of the standard price book (USD, EUR, GBP).
    assert len(prices) == SIZE.products * 3
    activated = harness.activated
    assert 0 < activated < SIZE.orders, "the seed needs orders in several statuses"
    assert len(subscriptions) == activated
    assert all(c["metadata"]["revbridge_id"] for c in customers)
    assert summary.systems["billing"].created == SIZE.accounts + SIZE.products + len(prices) + (
        activated
    )
    erp_types = [record_type for record_type, _ in harness.erp.records]
    assert erp_types.count("SalesOrder") == SIZE.orders
    assert erp_types.count("Customer") == SIZE.accounts


def test_order_amounts_reach_stripe_in_minor_units_exactly(harness: StripeHarness) -> None:
    harness.run()
    subscriptions = harness.billing.stripe_objects("subscriptions")
    customer_ids = {c["id"] for c in harness.billing.stripe_objects("customers")}
    product_ids = {p["id"] for p in harness.billing.stripe_objects("products")}

    for subscription in subscriptions:
        assert subscription["customer"] in customer_ids
        for item in subscription["items"]["data"]:
            price = item["price"]
            assert price["product"] in product_ids
            assert price["recurring"]["interval"] == "year"
            assert isinstance(price["unit_amount"], int)
    unit_prices = {
        Decimal(line["unit_price"]) * 100
        for order in _stored_orders(harness)
        for line in order["lines"]
    }
    stripe_amounts = {
        Decimal(item["price"]["unit_amount"])
        for subscription in subscriptions
        for item in subscription["items"]["data"]
    }
    assert stripe_amounts == unit_prices


def _stored_orders(harness: StripeHarness) -> list[dict[str, Any]]:
    with harness.store.engine.connect() as connection:
        return [record.payload for batch in iter_stored(connection, "order") for record in batch]


def test_a_rerun_writes_nothing_to_stripe_or_the_erp(harness: StripeHarness) -> None:
    harness.run()
    before = harness.downstream_writes()

    summary = harness.run()

    assert harness.downstream_writes() == before
    assert summary.written == 0
    assert summary.systems.get("salesforce") is None or summary.systems["salesforce"].read == 0
