"""Every canonical entity reaches the generic billing API through the engine, over loopback HTTP.

Salesforce-owned records (contacts, prices, quotes with lines, contracts, subscriptions) travel
with the quote-to-cash flow; ERP-owned ones (invoices, payments) with a receivables flow whose
source is the ERP sandbox. Invoice lines and credit memos are not readable from the ERP sandbox
yet, so their test reads ERP-shaped records from an in-memory source: the billing side (mapping,
connector, sandbox, xref) is the real one either way. Refs must arrive as billing ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import Connector, Cursor, Page, RawRecord, ReadSpec, WriteResult, WriteSpec
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import MappingSet
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.error_queue import list_errors
from sync.store.records import xref_entries
from sync.store.schema import ErrorStage
from tests.integration.cpq_harness import (
    RECEIVABLES,
    cpq_sandboxes,
    enter_erp_invoice_and_payment,
    run_flow,
    stored_payloads,
)

SIZE = SandboxSize(accounts=4, orders=12, products=4, invalid_records=False, page_size=200)
# Billing collection of each Salesforce-owned entity the quote-to-cash flow newly writes there.
CPQ_COLLECTIONS = {
    "contact": "contacts",
    "price_book_entry": "prices",
    "quote": "quotes",
    "contract": "contracts",
    "subscription": "subscriptions",
}


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def _run(
    sandboxes: Sandboxes,
    store: Store,
    mappings: MappingSet,
    flow: Flow,
    erp: Connector | None = None,
) -> RunSummary:
    return run_flow(sandboxes, store, mappings, flow, page_size=SIZE.page_size, erp=erp)


def _stored(store: Store, entity: str) -> dict[str, dict[str, Any]]:
    return stored_payloads(store, entity)


def _billing_ids(store: Store, canonical_ids: Sequence[str]) -> dict[str, str]:
    """Canonical id -> the billing id revbridge recorded when it wrote that record."""
    with store.engine.connect() as connection:
        entries = xref_entries(connection, "billing", canonical_ids)
    return {canonical: entry.external_id for canonical, entry in entries.items()}


def _by_external_id(sandboxes: Sandboxes, collection: str) -> dict[str, dict[str, Any]]:
    return {row["external_id"]: row for row in sandboxes.billing.resources(collection)}


def test_cpq_records_reach_billing_once_each_with_refs_as_billing_ids(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    summary = _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)

    assert (summary.rejected, summary.deferred) == (0, 0)
    for entity, collection in CPQ_COLLECTIONS.items():
        stored = _stored(store, entity)
        assert stored, f"the sandbox seeds no {entity}"
        assert set(_by_external_id(sandboxes, collection)) == set(stored), entity
        assert summary.counts(entity, "billing").created == len(stored)
    refs = {
        ref
        for entity in ("contact", "quote", "contract", "subscription")
        for record in _stored(store, entity).values()
        for ref in (record["account_id"], record.get("contract_id"))
        if ref is not None
    }
    refs |= {p["product_id"] for p in _stored(store, "price_book_entry").values()}
    billing_id = _billing_ids(store, sorted(refs | set(_stored(store, "product"))))
    assert set(billing_id) >= refs

    for canonical_id, contact in _by_external_id(sandboxes, "contacts").items():
        record = _stored(store, "contact")[canonical_id]
        assert contact["customer"] == billing_id[record["account_id"]]
        assert contact["customer"].startswith("cus_")
        assert (contact["last_name"], contact["email"]) == (record["last_name"], record["email"])
    for canonical_id, price in _by_external_id(sandboxes, "prices").items():
        record = _stored(store, "price_book_entry")[canonical_id]
        assert price["product"] == billing_id[record["product_id"]]
        assert Decimal(price["unit_amount"]) == Decimal(record["unit_price"])
    for canonical_id, subscription in _by_external_id(sandboxes, "subscriptions").items():
        record = _stored(store, "subscription")[canonical_id]
        assert subscription["customer"] == billing_id[record["account_id"]]
        assert subscription["contract"] == billing_id[record["contract_id"]]
        assert subscription["product"] == billing_id[record["product_id"]]
        assert subscription["unit_amount"] == record["net_price"]
        assert subscription["current_period_start"] == record["start_date"]
        assert subscription["status"] == "active"


def test_quote_lines_travel_inside_their_quote_with_billing_product_ids(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    quotes = _stored(store, "quote")
    billing_id = _billing_ids(store, sorted(_stored(store, "product")))

    lines = 0
    for canonical_id, quote in _by_external_id(sandboxes, "quotes").items():
        record = quotes[canonical_id]
        assert (quote["status"], quote["total"]) == ("accepted", record["total"])
        assert len(quote["lines"]) == len(record["lines"])
        for sent, line in zip(quote["lines"], record["lines"], strict=True):
            assert sent["product"] == billing_id[line["product_id"]]
            assert (sent["quantity"], sent["amount"]) == (line["quantity"], line["total"])
            lines += 1
    assert lines > 0


def test_a_rerun_writes_nothing_to_billing(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    writes = dict(sandboxes.billing.writes)

    summary = _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)

    assert summary.written == 0
    assert dict(sandboxes.billing.writes) == writes


def test_a_contact_billing_refuses_goes_to_the_error_queue_and_the_page_goes_on(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    salesforce = sandboxes.salesforce
    refused, changed = (contact["Id"] for contact in salesforce.records("Contact")[:2])
    # Salesforce keeps what a user typed; billing, like Stripe, checks the address.
    salesforce.update_record("Contact", refused, {"Email": "ada.lovelace at example.com"})
    salesforce.update_record("Contact", changed, {"Phone": "+44 20 7946 0000"})

    summary = _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)

    contacts = summary.counts("contact", "billing")
    assert (contacts.rejected, contacts.updated) == (1, 1)
    with store.engine.connect() as connection:
        (error,) = list_errors(connection, entity="contact", system="billing")
    assert (error.source_id, error.stage) == (refused, ErrorStage.WRITE.value)
    assert (error.code, error.target_system) == ("parameter_invalid", "billing")
    assert "email" in error.message
    assert error.payload is not None
    assert error.payload["email"] == "ada.lovelace at example.com"
    phones = {row["phone"] for row in sandboxes.billing.resources("contacts")}
    assert "+44 20 7946 0000" in phones
    emails = {row["email"] for row in sandboxes.billing.resources("contacts")}
    assert "ada.lovelace at example.com" not in emails


def _erp_ids(store: Store, canonical_ids: Sequence[str]) -> dict[str, str]:
    with store.engine.connect() as connection:
        entries = xref_entries(connection, "erp", canonical_ids)
    return {canonical: entry.external_id for canonical, entry in entries.items()}


def _activated_order(store: Store) -> dict[str, Any]:
    return next(o for o in _stored(store, "order").values() if o["status"] == "activated")


def test_erp_invoices_and_payments_reach_billing_with_billing_ids(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    order = _activated_order(store)
    enter_erp_invoice_and_payment(sandboxes, store, order)

    summary = _run(sandboxes, store, mapping_set, RECEIVABLES)
    again = _run(sandboxes, store, mapping_set, RECEIVABLES)

    assert (summary.rejected, summary.deferred) == (0, 0)
    billing_id = _billing_ids(store, [order["id"], order["account_id"]])
    (sent_invoice,) = sandboxes.billing.resources("invoices")
    assert (sent_invoice["customer"], sent_invoice["order"]) == (
        billing_id[order["account_id"]],
        billing_id[order["id"]],
    )
    assert (sent_invoice["status"], sent_invoice["currency"]) == ("open", "EUR")
    amounts = [Decimal(sent_invoice[name]) for name in ("total", "tax", "amount_due")]
    assert amounts == [Decimal("1190.00"), Decimal("190.00"), Decimal("1190.00")]
    (sent_payment,) = sandboxes.billing.resources("payments")
    assert sent_payment["customer"] == billing_id[order["account_id"]]
    assert Decimal(sent_payment["amount"]) == Decimal("1190.00")
    assert sent_payment["status"] == "succeeded"
    assert again.written == 0


# ERP-shaped invoices with item lines, payments applied to one invoice, and credit memos, read
# from :class:`LedgerSource` (the ERP sandbox has no credit memos and numbers lines per invoice).
LEDGER_MAPPING = """\
version: 2
system: erp
entities:
  invoice:
    object: Invoice
    key: internalId
    cursor: lastModifiedDate
    system_of_record: true
    fields:
      account_id: {path: entity, ref: account, required: true}
      invoice_number: {path: tranId}
      status: {path: status, map: {Open: open, Paid In Full: paid}}
      invoice_date: {path: tranDate, type: date, required: true}
      currency: {path: currency}
      subtotal: {path: subTotal, type: decimal}
      total: {path: total, type: decimal}
      amount_due: {path: amountRemaining, type: decimal}
      lines: {path: items, each: invoice_line, parent_key: invoice_id}
  invoice_line:
    object: InvoiceItem
    key: lineKey
    system_of_record: true
    fields:
      product_id: {path: item, ref: product}
      description: {path: description}
      quantity: {path: quantity, type: decimal}
      unit_price: {path: rate, type: decimal}
      amount: {path: amount, type: decimal}
  payment:
    object: CustomerPayment
    key: internalId
    cursor: lastModifiedDate
    system_of_record: true
    fields:
      account_id: {path: customer, ref: account, required: true}
      invoice_id: {path: invoice, ref: invoice}
      amount: {path: payment, type: decimal}
      currency: {path: currency}
      received_on: {path: tranDate, type: date}
      method: {const: wire}
      status: {const: succeeded}
  credit_memo:
    object: CreditMemo
    key: internalId
    cursor: lastModifiedDate
    system_of_record: true
    fields:
      account_id: {path: entity, ref: account, required: true}
      invoice_id: {path: createdFrom, ref: invoice}
      memo_number: {path: tranId}
      amount: {path: total, type: decimal}
      currency: {path: currency}
      issued_on: {path: tranDate, type: date}
      reason: {path: memo}
      status: {const: issued}
"""


class LedgerSource:
    """An ERP-shaped source of fixed records for the receivables flow; it never writes."""

    system = "erp"

    def __init__(self, records: Mapping[str, list[RawRecord]]) -> None:
        self._records = records

    def check(self) -> None:
        """Nothing to reach."""

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """All records of the object in one page, or none once a cursor is past them."""
        records = self._records.get(spec.object_name, [])
        if since is None and records:
            last = records[-1]
            yield Page(list(records), Cursor(last[spec.cursor_field], last[spec.key_field]))

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """Records by key, for retries."""
        wanted = set(record_ids)
        records = self._records.get(spec.object_name, [])
        return [record for record in records if record[spec.key_field] in wanted]

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """The receivables flow only reads the ERP."""
        raise AssertionError(f"unexpected write of {spec.object_name} to the ledger")

    def close(self) -> None:
        """Nothing to release."""


def _ledger(account: str, products: Sequence[str]) -> dict[str, list[RawRecord]]:
    stamp = "2026-02-01T09:00:00.000Z"
    items = [
        {"lineKey": "5001-1", "item": products[0], "quantity": "10", "rate": "100.00",
         "amount": "1000.00", "description": "Seats, February"},
        {"lineKey": "5001-2", "item": None, "quantity": "1", "rate": "150.00",
         "amount": "150.00", "description": "Onboarding"},
    ]  # fmt: skip
    invoice = {"internalId": "5001", "lastModifiedDate": stamp, "entity": account,
               "tranId": "INV-5001", "status": "Open", "tranDate": "2026-02-01",
               "currency": "EUR", "subTotal": "1150.00", "total": "1150.00",
               "amountRemaining": "1150.00", "items": items}  # fmt: skip
    payment = {"internalId": "6001", "lastModifiedDate": stamp, "customer": account,
               "invoice": "5001", "payment": "1000.00", "currency": "EUR",
               "tranDate": "2026-02-10"}  # fmt: skip
    memo = {"internalId": "7001", "lastModifiedDate": stamp, "entity": account,
            "createdFrom": "5001", "tranId": "CM-7001", "total": "150.00", "currency": "EUR",
            "tranDate": "2026-02-12", "memo": "Onboarding waived"}  # fmt: skip
    return {"Invoice": [invoice], "CustomerPayment": [payment], "CreditMemo": [memo]}


@pytest.fixture(scope="module")
def ledger_mapping_set(tmp_path_factory: pytest.TempPathFactory) -> MappingSet:
    erp = tmp_path_factory.mktemp("ledger") / "erp.yaml"
    erp.write_text(LEDGER_MAPPING)
    shipped = [path for path in shipped_mapping_files() if path.name != "erp.yaml"]
    return load_mapping_set([*shipped, erp])


def test_invoice_lines_payments_and_credit_memos_reach_billing_with_billing_ids(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet, ledger_mapping_set: MappingSet
) -> None:
    _run(sandboxes, store, mapping_set, QUOTE_TO_CASH)
    order = _activated_order(store)
    product = order["lines"][0]["product_id"]
    erp_id = _erp_ids(store, [order["account_id"], product])
    ledger = LedgerSource(_ledger(erp_id[order["account_id"]], [erp_id[product]]))

    summary = _run(sandboxes, store, ledger_mapping_set, RECEIVABLES, erp=ledger)
    again = _run(sandboxes, store, ledger_mapping_set, RECEIVABLES, erp=ledger)

    assert (summary.rejected, summary.deferred) == (0, 0)
    billing_id = _billing_ids(store, [order["account_id"], product])
    customer = billing_id[order["account_id"]]
    (invoice,) = sandboxes.billing.resources("invoices")
    assert invoice["customer"] == customer
    assert [(line["product"], line["amount"]) for line in invoice["lines"]] == [
        (billing_id[product], "1000.00"),
        (None, "150.00"),
    ]
    (payment,) = sandboxes.billing.resources("payments")
    (credit_note,) = sandboxes.billing.resources("credit_notes")
    assert (payment["invoice"], credit_note["invoice"]) == (invoice["id"], invoice["id"])
    assert (payment["customer"], credit_note["customer"]) == (customer, customer)
    assert (payment["payment_method"], payment["refunded"]) == ("bank_transfer", False)
    assert (credit_note["amount"], credit_note["memo"]) == ("150.00", "Onboarding waived")
    assert again.written == 0
