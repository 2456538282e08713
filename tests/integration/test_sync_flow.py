"""The whole flow over loopback HTTP with the real clients, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mappings.mapping_set import MappingSet
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.error_queue import list_errors
from sync.store.records import xref_entries
from sync.store.schema import ErrorStage, RunStatus

SIZE = SandboxSize(accounts=15, orders=230, products=8, page_size=200)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        yield running


class Harness:
    """Runs the quote-to-cash flow against the sandboxes and one store."""

    def __init__(self, sandboxes: Sandboxes, database_url: str, mapping_set: MappingSet) -> None:
        self.sandboxes = sandboxes
        self.store = Store(database_url)
        self.settings = sandboxes.settings(database_url)
        self.mapping_set = mapping_set

    def run(self) -> RunSummary:
        with open_connectors(self.settings) as connectors:
            engine = SyncEngine(self.store, self.mapping_set, connectors, QUOTE_TO_CASH)
            return engine.run()

    def downstream_writes(self) -> tuple[int, int]:
        billing = sum(self.sandboxes.billing.writes.values())
        erp = sum(self.sandboxes.erp.upsert_count.values())
        return billing, erp


@pytest.fixture
def harness(sandboxes: Sandboxes, database_url: str, mapping_set: MappingSet) -> Iterator[Harness]:
    running = Harness(sandboxes, database_url, mapping_set)
    yield running
    running.store.close()


def test_first_run_delivers_every_valid_record_to_billing_and_erp(harness: Harness) -> None:
    summary = harness.run()
    billing, erp = harness.sandboxes.billing, harness.sandboxes.erp
    entities = summary.by_entity

    assert summary.status is RunStatus.PARTIAL
    read = {
        entity: entities[entity]["salesforce"].read for entity in ("account", "product", "order")
    }
    assert read == {"account": 15, "product": 8, "order": 230}
    captured = {entity: entities[entity]["canonical"].created for entity in read}
    for entity in read:
        source = entities[entity]["salesforce"]
        assert captured[entity] == source.read - source.rejected - source.deferred
    collections = {"account": "customers", "product": "products", "order": "orders"}
    for entity, collection in collections.items():
        assert len(billing.resources(collection)) == captured[entity]
        assert entities[entity]["billing"].created == captured[entity]
        assert entities[entity]["erp"].created == captured[entity]
    erp_types = [record_type for record_type, _ in erp.records]
    assert erp_types.count("Customer") == captured["account"]
    assert erp_types.count("ServiceSaleItem") == captured["product"]
    assert erp_types.count("SalesOrder") == captured["order"]
    # CPQ records are captured once into the canonical store even where no target takes them.
    assert entities["quote"]["canonical"].created > 0
    assert entities["contract"]["canonical"].created > 0


def test_orders_reach_billing_with_billing_ids_and_exact_amounts(harness: Harness) -> None:
    harness.run()
    billing = harness.sandboxes.billing
    customer_ids = {customer["id"] for customer in billing.resources("customers")}
    product_ids = {product["id"] for product in billing.resources("products")}
    orders = billing.resources("orders")
    assert orders
    for order in orders:
        assert order["customer"] in customer_ids
        assert {line["product"] for line in order["lines"]} <= product_ids
        assert isinstance(order["total"], str)


def test_invalid_records_go_to_the_error_queue_and_the_batch_continues(harness: Harness) -> None:
    summary = harness.run()
    invalid = harness.sandboxes.salesforce.invalid_record_ids
    with harness.store.engine.connect() as connection:
        errors = list_errors(connection, limit=1000)
    queued = {error.source_id: error for error in errors}
    # An invalid order line fails its order; an invalid account fails its orders (deferred).
    for record_id in invalid:
        matching = [e for e in errors if e.source_id == record_id or record_id in str(e.payload)]
        assert matching, f"{record_id} ({invalid[record_id]}) is not in the error queue"
    for error in queued.values():
        assert error.payload is not None
        assert error.message
        assert error.stage in {ErrorStage.MAP.value, ErrorStage.VALIDATE.value, "resolve"}
    assert summary.error_queue_active == len(errors)
    assert summary.systems["billing"].created > 200


def test_rerun_without_source_changes_writes_nothing_downstream(harness: Harness) -> None:
    harness.run()
    before = harness.downstream_writes()
    summary = harness.run()
    assert harness.downstream_writes() == before
    assert summary.written == 0
    assert summary.systems.get("salesforce") is None or summary.systems["salesforce"].read == 0


def test_changed_records_are_the_only_ones_sent_again(harness: Harness) -> None:
    harness.run()
    salesforce = harness.sandboxes.salesforce
    account_id = harness.sandboxes.billing.resources("customers")[0]["external_id"]
    with harness.store.engine.connect() as connection:
        source_account = xref_entries(connection, "salesforce", [account_id])[account_id]
    salesforce.update_record("Account", source_account.external_id, {"Phone": "+1 415 555 0199"})
    before = harness.downstream_writes()

    summary = harness.run()

    assert summary.systems["salesforce"].read == 1
    assert summary.systems["billing"].updated == 1
    assert summary.systems["erp"].updated == 1
    assert summary.systems["billing"].created == summary.systems["erp"].created == 0
    billing_writes, erp_writes = harness.downstream_writes()
    assert (billing_writes - before[0], erp_writes - before[1]) == (1, 1)
    customer = next(
        c
        for c in harness.sandboxes.billing.resources("customers")
        if c["external_id"] == account_id
    )
    assert customer["phone"] == "+1 415 555 0199"
