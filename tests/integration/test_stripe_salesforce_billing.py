"""Stripe invoices with their lines, a payment and a credit note land in Salesforce Billing.

With the Stripe profile billing owns receivables; a ``receivables`` flow from billing writes
them to the ERP and to Salesforce, where each invoice line sits under its invoice
(``blng__InvoiceLine__c.blng__Invoice__c``), the payment and the credit note point at their
invoice, and every record points at the Salesforce account (and products) it came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import Sandboxes
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.store.error_queue import list_errors
from tests.integration.test_stripe_inbound import (
    SIZE,
    ReceivablesHarness,
    _bill_every_customer,
    _make_every_other_line_one_time,
    mappings_dir,
)

__all__ = ["mappings_dir"]  # the fixture, shared with test_stripe_inbound
RECEIVABLES = Flow(name="receivables", source="billing", targets=("erp", "salesforce"))


class BilledHarness(ReceivablesHarness):
    """The receivables harness with the Salesforce sandbox and the Stripe invoices billed."""

    def __init__(self, sandboxes: Sandboxes, database_url: str, mappings_dir: Path) -> None:
        super().__init__(sandboxes, database_url, mappings_dir)
        self.salesforce: SalesforceSandbox = sandboxes.salesforce
        self.invoices: list[dict[str, Any]] = []


@contextmanager
def _billed(database_url: str, mappings_dir: Path, credited: int) -> Iterator[BilledHarness]:
    """Quote-to-cash into Stripe, then every customer billed; the first invoice paid and the
    one at ``credited`` credited 12.50."""
    with Sandboxes(SIZE) as sandboxes:
        _make_every_other_line_one_time(sandboxes)
        harness = BilledHarness(sandboxes, database_url, mappings_dir)
        assert harness.run(QUOTE_TO_CASH).rejected == 0
        invoices = _bill_every_customer(harness.billing)
        assert len(invoices) >= 2, "the sample orders need one-time lines on two customers"
        harness.billing.pay_invoice(invoices[0]["id"])
        harness.billing.credit_invoice(invoices[credited]["id"], 1250, "order_change")
        harness.invoices = invoices
        yield harness
        harness.store.close()


@pytest.fixture
def billed(database_url: str, mappings_dir: Path) -> Iterator[BilledHarness]:
    with _billed(database_url, mappings_dir, credited=-1) as harness:
        yield harness


@pytest.fixture
def billed_first(database_url: str, mappings_dir: Path) -> Iterator[BilledHarness]:
    """The first invoice paid and credited; the others open."""
    with _billed(database_url, mappings_dir, credited=0) as harness:
        yield harness


def _salesforce(harness: BilledHarness, object_name: str) -> dict[str, dict[str, Any]]:
    records = harness.salesforce.records(object_name)
    return {r["Revbridge_Id__c"]: r for r in records if r["Revbridge_Id__c"]}


def _source_ids(harness: BilledHarness, entity: str) -> dict[str, str]:
    """Canonical id -> the Salesforce id it was captured from."""
    return {record["id"]: record["source"]["id"] for record in harness.stored(entity)}


def test_invoices_lines_the_payment_and_the_credit_note_land_with_their_lookups(
    billed: BilledHarness,
) -> None:
    summary = billed.run(RECEIVABLES)

    assert summary.rejected == 0, summary.message
    accounts, products = _source_ids(billed, "account"), _source_ids(billed, "product")
    invoices = {i["id"]: i for i in billed.stored("invoice")}
    landed = _salesforce(billed, "blng__Invoice__c")
    lines = _salesforce(billed, "blng__InvoiceLine__c")
    assert set(landed) == set(invoices)
    assert len(lines) == sum(len(i["lines"]) for i in invoices.values()) > 0
    for invoice_id, invoice in invoices.items():
        row = landed[invoice_id]
        assert row["blng__Account__c"] == accounts[invoice["account_id"]]
        assert row["blng__TotalAmount__c"] == float(invoice["total"])  # the org's roll-up
        for line in invoice["lines"]:
            assert lines[line["id"]]["blng__Invoice__c"] == row["Id"]
            assert lines[line["id"]]["blng__Product__c"] == products[line["product_id"]]
    (payment,) = billed.stored("payment")
    paid = _salesforce(billed, "blng__Payment__c")[payment["id"]]
    assert paid["blng__Invoice__c"] == landed[payment["invoice_id"]]["Id"]
    assert (paid["blng__PaymentType__c"], paid["blng__Status__c"]) == ("Credit Card", "Posted")
    (memo,) = billed.stored("credit_memo")
    credited = _salesforce(billed, "blng__CreditNote__c")[memo["id"]]
    assert credited["blng__RelatedInvoice__c"] == landed[memo["invoice_id"]]["Id"]
    assert (credited["Revbridge_Amount__c"], credited["blng__Notes__c"]) == (12.5, "order_change")


def test_a_line_salesforce_refuses_puts_its_invoice_in_the_error_queue_and_the_rest_land(
    billed_first: BilledHarness,
) -> None:
    billed = billed_first
    stripe = billed.invoices
    on_invoices: dict[str, set[str]] = {}
    for invoice in stripe:
        for line in invoice["lines"]["data"]:
            on_invoices.setdefault(line["price"]["product"], set()).add(invoice["id"])
    # A product on open invoices only, so the paid and credited invoice still lands.
    product = next(p for p, ids in sorted(on_invoices.items()) if stripe[0]["id"] not in ids)
    refused = on_invoices[product]
    canonical = next(
        p["metadata"]["revbridge_id"]
        for p in billed.billing.stripe_objects("products")
        if p["id"] == product
    )
    # Deleted in Salesforce after it was billed: a line can't point at it any more.
    salesforce_id = _source_ids(billed, "product")[canonical]
    billed.salesforce.delete_record("Product2", salesforce_id)

    summary = billed.run(RECEIVABLES)

    counts = summary.by_entity["invoice"]["salesforce"]
    assert (counts.rejected, counts.created) == (len(refused), len(stripe) - len(refused))
    with billed.store.engine.connect() as connection:
        entries = list_errors(connection, system="salesforce")
    assert {(e.entity, e.source_id) for e in entries} == {("invoice", i) for i in refused}
    for entry in entries:
        assert entry.code == "INVALID_CROSS_REFERENCE_KEY"
        assert entry.message.startswith("blng__InvoiceInvoiceLines__r ")
        assert salesforce_id in entry.message
        assert entry.payload is not None
        assert entry.payload["blng__InvoiceInvoiceLines__r"]
    (payment,) = billed.stored("payment")
    assert set(_salesforce(billed, "blng__Payment__c")) == {payment["id"]}
    assert len(_salesforce(billed, "blng__CreditNote__c")) == 1
