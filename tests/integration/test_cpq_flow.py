"""CPQ records captured from the Salesforce sandbox, and ERP invoices and payments captured back.

Quotes (with their lines), contracts, subscriptions, contacts and price book entries are
captured into the canonical store from Salesforce with the default mappings; orders point at
their quote and contract by canonical id. Invoices and customer payments are read from the ERP
by a flow whose source is the ERP.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from mappings.identity import canonical_id
from mappings.mapping_set import MappingSet
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.stats import RunSummary
from sync.store import Store
from tests.integration.cpq_harness import (
    RECEIVABLES,
    cpq_sandboxes,
    enter_erp_invoice_and_payment,
    run_flow,
    stored_payloads,
)

SIZE = SandboxSize(accounts=6, orders=40, products=5, invalid_records=False, page_size=200)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def _run(sandboxes: Sandboxes, store: Store, mappings: MappingSet, flow: Flow) -> RunSummary:
    return run_flow(sandboxes, store, mappings, flow, page_size=SIZE.page_size)


def _stored(store: Store, entity: str) -> dict[str, dict[str, Any]]:
    return stored_payloads(store, entity, key=lambda record: record.source_id)


def _seeded(sandboxes: Sandboxes, object_name: str) -> dict[str, dict[str, Any]]:
    records = sandboxes.salesforce.records(object_name)
    return {record["Id"]: record for record in records if not record["IsDeleted"]}


def test_every_cpq_object_is_captured_once_with_parents_first(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    summary = _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)

    assert summary.rejected == 0
    assert summary.systems["salesforce"].deferred == 0
    for entity, object_name in {
        "contact": "Contact",
        "price_book_entry": "PricebookEntry",
        "quote": "SBQQ__Quote__c",
        "contract": "Contract",
        "subscription": "SBQQ__Subscription__c",
        "order": "Order",
    }.items():
        seeded = _seeded(sandboxes, object_name)
        assert seeded, f"the sandbox seeds no {object_name}"
        assert set(_stored(store, entity)) == set(seeded), entity


def test_quote_lines_travel_with_their_quote_and_keep_exact_amounts(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    quotes = _stored(store, "quote")
    lines = _seeded(sandboxes, "SBQQ__QuoteLine__c")

    captured_lines = [line for quote in quotes.values() for line in quote["lines"]]
    assert {line["source"]["id"] for line in captured_lines} == set(lines)
    for quote_id, quote in quotes.items():
        assert quote["status"] == "accepted"
        assert all(line["quote_id"] == quote["id"] for line in quote["lines"])
        net = sum((Decimal(line["total"]) for line in quote["lines"]), Decimal(0))
        assert abs(net - Decimal(quote["total"])) <= Decimal("0.01") * len(quote["lines"])
        source = _seeded(sandboxes, "SBQQ__Quote__c")[quote_id]
        assert quote["account_id"] == canonical_id(
            "account", "salesforce", source["SBQQ__Account__c"]
        )


def test_orders_refer_to_their_quote_and_contract_by_canonical_id(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    orders = _stored(store, "order")
    contracts = _stored(store, "contract")
    subscriptions = _stored(store, "subscription")

    quoted = [o for o in orders.values() if o["quote_id"] is not None]
    contracted = [o for o in orders.values() if o["contract_id"] is not None]
    assert quoted
    assert contracted
    for order in orders.values():
        source = _seeded(sandboxes, "Order")[order["source"]["id"]]
        expected_quote = source["SBQQ__Quote__c"]
        expected_contract = source["ContractId"]
        assert order["quote_id"] == (
            canonical_id("quote", "salesforce", expected_quote) if expected_quote else None
        )
        assert order["contract_id"] == (
            canonical_id("contract", "salesforce", expected_contract) if expected_contract else None
        )
    contract_ids = {contract["id"] for contract in contracts.values()}
    assert {s["contract_id"] for s in subscriptions.values()} <= contract_ids
    assert all(contract["status"] == "activated" for contract in contracts.values())


def test_a_rerun_reads_and_writes_nothing_new(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    summary = _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)

    assert summary.written == 0
    assert summary.systems.get("salesforce") is None or summary.systems["salesforce"].read == 0


def test_erp_invoices_and_payments_are_captured_with_refs_to_synced_records(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    order = next(o for o in _stored(store, "order").values() if o["status"] == "activated")
    enter_erp_invoice_and_payment(sandboxes, store, order)

    summary = _run(sandboxes, store, mapping_set, RECEIVABLES)

    assert summary.rejected == 0
    (captured_invoice,) = _stored(store, "invoice").values()
    (captured_payment,) = _stored(store, "payment").values()
    assert captured_invoice["account_id"] == order["account_id"]
    assert captured_invoice["order_id"] == order["id"]
    assert (captured_invoice["status"], captured_invoice["currency"]) == ("open", "EUR")
    assert Decimal(captured_invoice["tax"]) == Decimal("190.00")
    assert Decimal(captured_invoice["amount_due"]) == Decimal("1190.00")
    assert captured_invoice["invoice_date"] == "2026-02-01"
    assert captured_payment["account_id"] == order["account_id"]
    assert Decimal(captured_payment["amount"]) == Decimal("1190.00")
    assert captured_payment["status"] == "succeeded"
