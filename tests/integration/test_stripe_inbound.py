"""Stripe invoices, their lines, payments and credit notes read back into the canonical store.

Quote-to-cash first writes customers, products and orders to the Stripe sandbox; the sandbox
then bills a customer's pending invoice items, one invoice is paid and another credited, and a
``receivables`` flow with billing as its source captures them and writes invoices and payments
to the ERP. The mapping folder holds the default salesforce.yaml with the Stripe profile's
billing.yaml and erp.yaml, as a user would assemble it.
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
from mappings.canonical import CreditMemo, Invoice, Payment
from mappings.loader import shipped_mapping_files
from sandboxes.billing.sandbox import BillingSandbox
from sync.cli.common import mappings_for
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.records import iter_stored

SIZE = SandboxSize(accounts=3, orders=9, products=4, invalid_records=False, page_size=200)
STRIPE_PROFILE = Path(__file__).resolve().parents[2] / "mappings/profiles/stripe"
RECEIVABLES = Flow(name="receivables", source="billing", targets=("erp",))
CREDITED_CENTS = 1250
# The sample price book has whole amounts only; one-time lines get a price with cents.
ONE_TIME_PRICE = Decimal("19.99")


@pytest.fixture
def mappings_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(next(p for p in shipped_mapping_files() if p.name == "salesforce.yaml"), folder)
    for path in STRIPE_PROFILE.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    return folder


class ReceivablesHarness:
    """Quote-to-cash into Stripe, then receivables out of it, on one store."""

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

    def run(self, flow: Flow) -> RunSummary:
        mapping_set = mappings_for(self.settings)
        with open_connectors(self.settings) as connectors:
            engine = SyncEngine(self.store, mapping_set, connectors, flow)
            return engine.run()

    def stored(self, entity: str) -> list[dict[str, Any]]:
        with self.store.engine.connect() as connection:
            return [rec.payload for batch in iter_stored(connection, entity) for rec in batch]


def _make_every_other_line_one_time(sandboxes: Sandboxes) -> None:
    """Lines without an end date are charged once: Stripe invoice items, not subscriptions.

    The rest recur: the seed's own one-time fees (services) are made recurring, so every
    invoice line is one of the lines made one-time here, at its known price.
    """
    salesforce = sandboxes.salesforce
    for index, line in enumerate(salesforce.records("OrderItem")):
        if index % 2:
            changes: dict[str, Any] = {"SBQQ__ChargeType__c": "Recurring"}
        else:
            changes = {
                "EndDate": None,
                "UnitPrice": float(ONE_TIME_PRICE),
                "SBQQ__ChargeType__c": "One-Time",
            }
        salesforce.update_record("OrderItem", line["Id"], changes)


@pytest.fixture
def harness(database_url: str, mappings_dir: Path) -> Iterator[ReceivablesHarness]:
    with Sandboxes(SIZE) as sandboxes:
        _make_every_other_line_one_time(sandboxes)
        running = ReceivablesHarness(sandboxes, database_url, mappings_dir)
        yield running
        running.store.close()


def _bill_every_customer(billing: BillingSandbox) -> list[dict[str, Any]]:
    """One invoice per customer with pending invoice items, as Stripe's billing run makes."""
    pending = {item["customer"] for item in billing.stripe_objects("invoiceitems")}
    return [billing.bill_pending_items(customer) for customer in sorted(pending)]


@pytest.fixture
def billed(harness: ReceivablesHarness) -> list[dict[str, Any]]:
    """Stripe invoices after quote-to-cash: the first paid, the last credited 12.50."""
    summary = harness.run(QUOTE_TO_CASH)
    assert summary.rejected == 0, summary.message
    invoices = _bill_every_customer(harness.billing)
    assert len(invoices) >= 2, "the sample orders need one-time lines on two customers"
    harness.billing.pay_invoice(invoices[0]["id"])
    harness.billing.credit_invoice(invoices[-1]["id"], CREDITED_CENTS, "order_change")
    return invoices


def _cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def _by_source_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["source"]["id"]: record for record in records}


def test_invoices_land_in_the_store_with_exact_amounts_and_every_line(
    harness: ReceivablesHarness, billed: list[dict[str, Any]]
) -> None:
    summary = harness.run(RECEIVABLES)

    assert summary.rejected == 0, summary.message
    stored = _by_source_id(harness.stored("invoice"))
    assert set(stored) == {invoice["id"] for invoice in billed}
    accounts = {a["source"]["id"]: a["id"] for a in harness.stored("account")}
    stripe_customers = {c["id"]: c["metadata"]["revbridge_id"] for c in _customers(harness)}
    for invoice in billed:
        record = Invoice.model_validate(stored[invoice["id"]])
        assert record.account_id == stripe_customers[invoice["customer"]]
        assert record.account_id in accounts.values()
        assert record.currency == invoice["currency"].upper()
        assert record.total == Decimal(invoice["total"]) / 100
        assert record.subtotal == Decimal(invoice["subtotal"]) / 100
        lines = invoice["lines"]["data"]
        assert [line.source.id for line in record.lines] == [line["id"] for line in lines]
        assert [line.amount for line in record.lines] == [
            Decimal(line["amount"]) / 100 for line in lines
        ]
        assert all(line.invoice_id == record.id for line in record.lines)
        assert all(line.product_id for line in record.lines)
        assert sum(line.amount for line in record.lines) == record.total


def _customers(harness: ReceivablesHarness) -> list[dict[str, Any]]:
    return harness.billing.stripe_objects("customers")


def test_line_amounts_keep_their_cents_exactly(
    harness: ReceivablesHarness, billed: list[dict[str, Any]]
) -> None:
    harness.run(RECEIVABLES)

    lines = [
        line
        for payload in harness.stored("invoice")
        for line in Invoice.model_validate(payload).lines
    ]
    assert len(lines) == sum(len(invoice["lines"]["data"]) for invoice in billed)
    assert {line.unit_price for line in lines} == {ONE_TIME_PRICE}
    for line in lines:
        assert line.amount == ONE_TIME_PRICE * line.quantity
        assert line.amount.as_tuple().exponent == -2


def test_the_paid_invoice_reads_paid_with_its_payment_applied(
    harness: ReceivablesHarness, billed: list[dict[str, Any]]
) -> None:
    harness.run(RECEIVABLES)

    paid, invoices = billed[0], _by_source_id(harness.stored("invoice"))
    payments = [Payment.model_validate(p) for p in harness.stored("payment")]
    assert len(payments) == 1
    payment = payments[0]
    assert payment.invoice_id == invoices[paid["id"]]["id"]
    assert payment.account_id == invoices[paid["id"]]["account_id"]
    assert payment.amount == Decimal(paid["total"]) / 100
    assert (payment.method.value, payment.status.value) == ("card", "succeeded")
    assert invoices[paid["id"]]["status"] == "paid"
    assert Decimal(invoices[paid["id"]]["amount_due"]) == 0
    open_ones = [i for i in billed[1:] if i["id"] != paid["id"]]
    assert all(invoices[i["id"]]["status"] == "open" for i in open_ones)


def test_the_credit_note_becomes_a_credit_memo_on_its_invoice(
    harness: ReceivablesHarness, billed: list[dict[str, Any]]
) -> None:
    harness.run(RECEIVABLES)

    credited = _by_source_id(harness.stored("invoice"))[billed[-1]["id"]]
    memos = [CreditMemo.model_validate(m) for m in harness.stored("credit_memo")]
    assert len(memos) == 1
    memo = memos[0]
    assert (memo.invoice_id, memo.account_id) == (credited["id"], credited["account_id"])
    assert memo.amount == Decimal("12.50")
    assert (memo.status.value, memo.reason) == ("issued", "order_change")
    assert str(memo.memo_number).startswith("CN-")


def test_invoices_and_the_payment_reach_the_erp_once(
    harness: ReceivablesHarness, billed: list[dict[str, Any]]
) -> None:
    first = harness.run(RECEIVABLES)
    erp_types = [record_type for record_type, _ in harness.erp.records]

    again = harness.run(RECEIVABLES)

    assert first.rejected == 0, first.message
    assert erp_types.count("Invoice") == len(billed)
    assert erp_types.count("CustomerPayment") == 1
    assert again.written == 0
    assert [record_type for record_type, _ in harness.erp.records] == erp_types
