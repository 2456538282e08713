"""Every canonical entity reaches the ERP or comes from it, over zeep and the loopback sandbox.

Quote-to-cash writes contacts, estimates (quotes with their lines) and custom records
(contracts, subscriptions, price book entries) to NetSuite; a flow whose source is the ERP
captures invoices with their lines and credit memos into the canonical store.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from mappings.identity import canonical_id
from mappings.mapping_set import MappingSet
from sandboxes.erp.sandbox import CUSTOM_RECORD_TYPES
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.stats import RunSummary
from sync.store import Store
from tests.integration.cpq_harness import (
    RECEIVABLES,
    cpq_sandboxes,
    run_flow,
    stored_payloads,
)

SIZE = SandboxSize(accounts=4, orders=12, products=4, invalid_records=False, page_size=200)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def _run(sandboxes: Sandboxes, store: Store, mappings: MappingSet, flow: Flow) -> RunSummary:
    return run_flow(sandboxes, store, mappings, flow, page_size=SIZE.page_size)


def _stored(store: Store, entity: str) -> dict[str, dict[str, Any]]:
    return stored_payloads(store, entity)


def _erp(sandboxes: Sandboxes, record_type: str) -> dict[str, dict[str, Any]]:
    return {
        ext: record for (kind, ext), record in sandboxes.erp.records.items() if kind == record_type
    }


def _custom(sandboxes: Sandboxes, script_id: str) -> dict[str, dict[str, Any]]:
    type_id = CUSTOM_RECORD_TYPES[script_id]
    return {
        ext: {
            field["scriptId"]: field["value"] for field in record["customFieldList"]["customField"]
        }
        for ext, record in _erp(sandboxes, "CustomRecord").items()
        if record["recType"]["internalId"] == type_id
    }


def test_quote_to_cash_writes_contacts_estimates_and_custom_records_and_a_rerun_writes_nothing(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    summary = _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)

    assert summary.rejected == 0
    customers, items = _erp(sandboxes, "Customer"), _erp(sandboxes, "ServiceSaleItem")
    contacts, contact_records = _stored(store, "contact"), _erp(sandboxes, "Contact")
    assert contacts
    assert set(contact_records) == set(contacts)
    for contact_id, contact in contacts.items():
        assert contact_records[contact_id]["company"] == {"externalId": contact["account_id"]}
        assert contact["account_id"] in customers
        assert contact_records[contact_id]["lastName"] == contact["last_name"]
    quotes, estimates = _stored(store, "quote"), _erp(sandboxes, "Estimate")
    assert quotes
    assert set(estimates) == set(quotes)
    for quote_id, quote in quotes.items():
        lines = estimates[quote_id]["itemList"]["item"]
        assert [line["item"]["externalId"] for line in lines] == [
            line["product_id"] for line in quote["lines"]
        ]
        assert all(line["item"]["externalId"] in items for line in lines)
        assert all(line["price"] == {"internalId": "-1"} for line in lines)
        assert [Decimal(line["amount"]) for line in lines] == [
            Decimal(line["total"]) for line in quote["lines"]
        ]
    contracts = _custom(sandboxes, "customrecord_rb_contract")
    subscriptions = _custom(sandboxes, "customrecord_rb_subscription")
    prices = _custom(sandboxes, "customrecord_rb_price")
    assert set(contracts) == set(_stored(store, "contract"))
    assert set(subscriptions) == set(_stored(store, "subscription"))
    assert set(prices) == set(_stored(store, "price_book_entry"))
    for subscription_id, subscription in _stored(store, "subscription").items():
        fields = subscriptions[subscription_id]
        assert fields["custrecord_rb_sub_item"] == {"externalId": subscription["product_id"]}
        assert fields["custrecord_rb_sub_contract"]["externalId"] in contracts
        assert fields["custrecord_rb_sub_start"].startswith(subscription["start_date"])
    for entry_id, entry in _stored(store, "price_book_entry").items():
        assert prices[entry_id]["custrecord_rb_price_item"] == {"externalId": entry["product_id"]}
        assert Decimal(prices[entry_id]["custrecord_rb_price_amount"]) == Decimal(
            entry["unit_price"]
        )
    written = dict(sandboxes.erp.upsert_count)

    rerun = _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)

    assert rerun.written == 0
    assert dict(sandboxes.erp.upsert_count) == written


def test_erp_invoice_lines_and_credit_memos_are_captured_with_refs_to_synced_records(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    seeded = sandboxes.erp.seed_receivables(customers=2)
    assert len(seeded) == 2

    summary = _run(sandboxes, store, mapping_set, RECEIVABLES)

    assert summary.rejected == 0
    invoices, memos = _stored(store, "invoice"), _stored(store, "credit_memo")
    products = _stored(store, "product")
    assert set(invoices) == {canonical_id("invoice", "erp", inv) for inv, _ in seeded}
    line_ids = set()
    for invoice_id, memo_id in seeded:
        invoice = invoices[canonical_id("invoice", "erp", invoice_id)]
        assert [line["id"] for line in invoice["lines"]] == [
            canonical_id("invoice_line", "erp", f"{invoice_id}:{n}") for n in (1, 2)
        ]
        assert [Decimal(line["amount"]) for line in invoice["lines"]] == [
            Decimal("300.00"),
            Decimal("99.50"),
        ]
        assert Decimal(invoice["lines"][0]["unit_price"]) == Decimal("150.00")
        assert all(line["invoice_id"] == invoice["id"] for line in invoice["lines"])
        assert all(line["product_id"] in products for line in invoice["lines"])
        line_ids |= {line["id"] for line in invoice["lines"]}
        memo = memos[canonical_id("credit_memo", "erp", memo_id)]
        assert memo["invoice_id"] == invoice["id"]
        assert memo["account_id"] == invoice["account_id"]
        assert (memo["memo_number"], memo["status"], memo["issued_on"]) == (
            memo["memo_number"],
            "issued",
            "2026-02-15",
        )
        assert Decimal(memo["amount"]) == Decimal("50.00")
    assert len(line_ids) == 4  # line numbers repeat across invoices; canonical ids do not

    rerun = _run(sandboxes, store, mapping_set, RECEIVABLES)

    assert rerun.written == 0
    assert rerun.systems.get("erp") is None or rerun.systems["erp"].read == 0
