"""Payments applied in the ERP reach Salesforce Billing: balances fall, payments link invoices.

Quote-to-cash first puts accounts and orders in the ERP; finance then invoices three orders
there and pays them through the real ERP connector, each payment applied to its invoice (its
``applyList``), so the ERP sandbox lowers the invoice's ``amountRemaining`` as NetSuite does.
A ``receivables`` run carries the balances (``Revbridge_Balance__c``) and the payments, linked
to the invoices they pay (``blng__Invoice__c``) and allocated to them as Billing does
(``blng__PaymentAllocationInvoice__c``, which the org rolls up into ``blng__Balance__c``), to
Salesforce.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import WriteResult, WriteSpec
from connectors.erp.connector import ErpConnector
from mappings.loader import load_mapping_set
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.demo import run_demo
from sync.cli.demo_receivables import (
    BilledOrder,
    bill_orders,
    erp_invoice,
    erp_payment,
    part_of,
    ticking_clock,
)
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH, RECEIVABLES, Flow
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.error_queue import list_errors
from sync.store.records import iter_stored, xref_entries

SIZE = SandboxSize(accounts=3, orders=8, products=3, invalid_records=False, page_size=200)


class Ledger:
    """The sandboxes after quote-to-cash, with three orders invoiced in the ERP."""

    def __init__(self, sandboxes: Sandboxes, database_url: str) -> None:
        self.sandboxes = sandboxes
        self.settings = sandboxes.settings(database_url)
        self.store = Store(database_url)
        self.mappings = load_mapping_set()
        assert self.run(QUOTE_TO_CASH).rejected == 0

    def bill(self, paid: int, part_paid: int) -> list[BilledOrder]:
        """Invoice three orders; the first ``paid`` are paid in full, the next in part."""
        erp = self.erp()
        try:
            return bill_orders(self.store, erp, 3, paid, part_paid)
        finally:
            erp.close()

    def erp(self) -> ErpConnector:
        return ErpConnector(self.settings.erp, self.settings.retry, wsdl_cache=None)

    def write_erp(self, record_type: str, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        erp = self.erp()
        try:
            return erp.write(WriteSpec(record_type, "externalId"), records)
        finally:
            erp.close()

    def run(self, flow: Flow = RECEIVABLES) -> RunSummary:
        with open_connectors(self.settings) as connectors:
            return SyncEngine(self.store, self.mappings, connectors, flow).run()

    def erp_invoice(self, billed: BilledOrder) -> dict[str, Any]:
        return self.sandboxes.erp.records[("Invoice", billed.invoice["externalId"])]

    def salesforce(self, object_name: str) -> dict[str, dict[str, Any]]:
        """Salesforce records of ``object_name`` by the ERP document number or revbridge id."""
        rows = self.sandboxes.salesforce.records(object_name)
        return {r.get("Revbridge_Number__c") or r["Revbridge_Id__c"]: r for r in rows}

    def balance(self, billed: BilledOrder) -> Decimal:
        row = self.salesforce("blng__Invoice__c")[billed.invoice["tranId"]]
        return Decimal(str(row["Revbridge_Balance__c"]))

    def stored(self, entity: str) -> dict[str, dict[str, Any]]:
        with self.store.engine.connect() as connection:
            return {r.canonical_id: r.payload for b in iter_stored(connection, entity) for r in b}

    def stored_invoice(self, billed: BilledOrder) -> dict[str, Any]:
        (invoice,) = [
            invoice
            for invoice in self.stored("invoice").values()
            if invoice["invoice_number"] == billed.invoice["tranId"]
        ]
        return invoice


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    sandboxes = Sandboxes(SIZE)
    # A second per reading: what finance just saved is already older than the ERP search's
    # upper bound (its clock minus a second).
    sandboxes.erp = ErpSandbox(clock=ticking_clock())
    with sandboxes:
        prepared = Ledger(sandboxes, database_url)
        yield prepared
        prepared.store.close()


def _payment_links(ledger: Ledger) -> dict[str, str | None]:
    """ERP payment internalId -> the Salesforce id of the invoice its Salesforce payment pays."""
    landed = ledger.salesforce("blng__Payment__c")
    return {
        payment["source"]["id"]: landed[canonical_id]["blng__Invoice__c"]
        for canonical_id, payment in ledger.stored("payment").items()
    }


def _erp_id(ledger: Ledger, record_type: str, external_id: str) -> str:
    return str(ledger.sandboxes.erp.records[(record_type, external_id)]["internalId"])


def test_a_paid_and_a_part_paid_invoice_reach_salesforce_at_their_balances(
    ledger: Ledger,
) -> None:
    paid, part_paid, unpaid = ledger.bill(paid=1, part_paid=1)

    summary = ledger.run()

    assert summary.rejected == 0, summary.message
    remainder = Decimal(part_paid.invoice["total"]) - part_of(part_paid.invoice)
    assert ledger.balance(paid) == 0
    assert ledger.balance(part_paid) == remainder > 0
    assert ledger.balance(unpaid) == Decimal(unpaid.invoice["total"])
    assert ledger.erp_invoice(paid)["status"] == "Paid In Full"
    assert ledger.erp_invoice(part_paid)["status"] == "Open"
    assert ledger.stored_invoice(paid)["status"] == "paid"
    assert ledger.stored_invoice(part_paid)["status"] == "open"
    invoices = ledger.salesforce("blng__Invoice__c")
    assert [invoices[b.invoice["tranId"]]["blng__InvoiceStatus__c"] for b in (paid, part_paid)] == [
        "Posted",
        "Posted",
    ]
    # Each Salesforce payment looks up the invoice it pays, and carries what it paid.
    assert _payment_links(ledger) == {
        _erp_id(ledger, "CustomerPayment", b.payment["externalId"]): invoices[b.invoice["tranId"]][
            "Id"
        ]
        for b in (paid, part_paid)
        if b.payment
    }
    amounts = {
        Decimal(str(p["blng__Amount__c"])) for p in ledger.salesforce("blng__Payment__c").values()
    }
    assert amounts == {Decimal(paid.invoice["total"]), part_of(part_paid.invoice)}


def _native_balance(ledger: Ledger, billed: BilledOrder) -> Decimal:
    """The invoice's balance as Salesforce Billing rolls it up from its allocations."""
    row = ledger.salesforce("blng__Invoice__c")[billed.invoice["tranId"]]
    return Decimal(str(row["blng__Balance__c"]))


def _allocations(ledger: Ledger) -> list[tuple[str, str, Decimal]]:
    """(payment id, invoice id, amount) of every live allocation in Salesforce."""
    rows = ledger.sandboxes.salesforce.records("blng__PaymentAllocationInvoice__c")
    return sorted(
        (r["blng__Payment__c"], r["blng__Invoice__c"], Decimal(str(r["blng__Amount__c"])))
        for r in rows
        if not r["IsDeleted"]
    )


def test_payments_are_allocated_to_their_invoices_and_billing_balances_follow(
    ledger: Ledger,
) -> None:
    paid, part_paid, unpaid = ledger.bill(paid=1, part_paid=1)

    assert ledger.run().rejected == 0

    invoices = ledger.salesforce("blng__Invoice__c")
    payments = ledger.salesforce("blng__Payment__c")
    assert _allocations(ledger) == sorted(
        (payments[_stored_payment_id(ledger, b)]["Id"], invoices[b.invoice["tranId"]]["Id"], paid)
        for b, paid in (
            (paid, Decimal(paid.invoice["total"])),
            (part_paid, part_of(part_paid.invoice)),
        )
    )
    # Billing's own balance agrees with the ERP's, so reports built on it are right too.
    assert [_native_balance(ledger, b) for b in (paid, part_paid, unpaid)] == [
        ledger.balance(b) for b in (paid, part_paid, unpaid)
    ]
    assert _native_balance(ledger, paid) == 0
    assert {Decimal(str(p["blng__Balance__c"])) for p in payments.values()} == {Decimal(0)}

    # A second run, and the payments sent again, leave one allocation per invoice paid.
    again = [b.payment for b in (paid, part_paid) if b.payment]
    assert all(result.ok for result in ledger.write_erp("CustomerPayment", again))
    ledger.run()
    assert len(_allocations(ledger)) == 2


def test_one_payment_of_two_invoices_reaches_salesforce_allocated_to_both(
    ledger: Ledger,
) -> None:
    (first,) = ledger.bill(paid=0, part_paid=0)[:1]
    second = {**_second_invoice(ledger, first), "currency": first.invoice["currency"]}
    (written,) = ledger.write_erp("Invoice", [second])
    on_second = Decimal("7.50")
    payment = erp_payment(first.invoice, first.invoice_id)
    payment["externalId"] = "PAY-BOTH"
    payment["payment"] = str(Decimal(first.invoice["total"]) + on_second)
    payment["applyList"]["apply"].append(
        {"apply": True, "doc": written.target_id, "amount": str(on_second)}
    )
    assert ledger.write_erp("CustomerPayment", [payment])[0].ok

    summary = ledger.run()

    assert summary.rejected == 0, summary.message
    invoices = ledger.salesforce("blng__Invoice__c")
    (landed,) = ledger.salesforce("blng__Payment__c").values()
    # Paying several invoices, it names none itself: its allocations say which.
    assert landed["blng__Invoice__c"] is None
    assert _allocations(ledger) == sorted(
        [
            (
                landed["Id"],
                invoices[first.invoice["tranId"]]["Id"],
                Decimal(first.invoice["total"]),
            ),
            (landed["Id"], invoices[second["tranId"]]["Id"], on_second),
        ]
    )
    assert _native_balance(ledger, first) == 0
    second_row = invoices[second["tranId"]]
    assert Decimal(str(second_row["blng__Balance__c"])) == Decimal(second["total"]) - on_second
    assert Decimal(str(second_row["Revbridge_Balance__c"])) == Decimal(second["total"]) - on_second


def _stored_payment_id(ledger: Ledger, billed: BilledOrder) -> str:
    assert billed.payment is not None
    (canonical_id,) = [
        canonical_id
        for canonical_id, payment in ledger.stored("payment").items()
        if payment["source"]["id"]
        == _erp_id(ledger, "CustomerPayment", billed.payment["externalId"])
    ]
    return canonical_id


def test_a_payment_recorded_after_the_first_sync_lowers_the_balance_on_the_next_run(
    ledger: Ledger,
) -> None:
    _, _, unpaid = ledger.bill(paid=1, part_paid=1)
    ledger.run()
    assert ledger.balance(unpaid) == Decimal(unpaid.invoice["total"])

    late = erp_payment(unpaid.invoice, unpaid.invoice_id, Decimal("10.00"))
    assert all(result.ok for result in ledger.write_erp("CustomerPayment", [late]))
    summary = ledger.run()

    assert summary.by_entity["invoice"]["salesforce"].updated == 1
    assert ledger.balance(unpaid) == Decimal(unpaid.invoice["total"]) - Decimal("10.00")
    invoice = ledger.salesforce("blng__Invoice__c")[unpaid.invoice["tranId"]]
    assert (
        _payment_links(ledger)[_erp_id(ledger, "CustomerPayment", late["externalId"])]
        == (invoice["Id"])
    )


def test_a_payment_sent_again_and_a_second_run_leave_the_same_balances(ledger: Ledger) -> None:
    billed = ledger.bill(paid=1, part_paid=1)
    ledger.run()
    balances = [ledger.balance(b) for b in billed]
    amounts = [ledger.erp_invoice(b)["amountRemaining"] for b in billed[:2]]

    again = [b.payment for b in billed if b.payment]
    assert all(result.ok for result in ledger.write_erp("CustomerPayment", again))
    summary = ledger.run()

    assert [ledger.erp_invoice(b)["amountRemaining"] for b in billed[:2]] == amounts
    assert [ledger.balance(b) for b in billed] == balances
    assert summary.systems.get("salesforce") is None or summary.systems["salesforce"].updated == 0
    assert ledger.run().written == 0


def test_a_payment_of_a_missing_invoice_or_overpaying_is_refused_and_the_rest_land(
    ledger: Ledger,
) -> None:
    first, second, third = ledger.bill(paid=0, part_paid=0)
    missing = {**erp_payment(first.invoice, "999999", Decimal("5.00")), "externalId": "PAY-LOST"}
    too_much = Decimal(second.invoice["total"]) + Decimal("0.01")
    overpaid = erp_payment(second.invoice, second.invoice_id, too_much)
    good = erp_payment(third.invoice, third.invoice_id)

    results = ledger.write_erp("CustomerPayment", [missing, overpaid, good])

    assert [(r.ok, r.error_code) for r in results] == [
        (False, "INVALID_KEY_OR_REF"),
        (False, "USER_ERROR"),
        (True, ""),
    ]
    assert "Invalid doc reference key 999999" in results[0].error_message
    assert f"its amount due is {Decimal(second.invoice['total']):.2f}" in results[1].error_message
    assert "amountPaid" not in ledger.erp_invoice(second)
    summary = ledger.run()
    assert summary.rejected == 0, summary.message
    assert ledger.balance(third) == 0
    assert ledger.balance(second) == Decimal(second.invoice["total"])
    assert len(ledger.salesforce("blng__Payment__c")) == 1


def test_a_payment_of_an_invoice_not_synced_yet_waits_for_it_and_then_lands(
    ledger: Ledger,
) -> None:
    (billed,) = ledger.bill(paid=0, part_paid=0)[:1]
    # Finance enters an invoice in a currency the mapping doesn't know: it stops at the map
    # stage, so revbridge has no such invoice when its payment comes.
    odd = _odd_invoice(ledger, billed)
    (written,) = ledger.write_erp("Invoice", [odd])
    payment = {**erp_payment(odd, written.target_id), "currency": {"internalId": "1"}}
    assert ledger.write_erp("CustomerPayment", [payment])[0].ok

    first = ledger.run()

    assert first.by_entity["invoice"]["erp"].rejected == 1
    assert first.by_entity["payment"]["erp"].deferred == 1
    assert ledger.salesforce("blng__Payment__c") == {}
    with ledger.store.engine.connect() as connection:
        queued = {(e.entity, e.stage) for e in list_errors(connection, system="erp")}
    assert queued == {("invoice", "map"), ("payment", "resolve")}

    ledger.write_erp(
        "Invoice", [{"externalId": odd["externalId"], "currency": {"internalId": "1"}}]
    )
    second = ledger.run()

    assert second.by_entity["payment"]["salesforce"].created == 1, second.message
    invoice = ledger.salesforce("blng__Invoice__c")[odd["tranId"]]
    assert Decimal(str(invoice["Revbridge_Balance__c"])) == 0
    (link,) = _payment_links(ledger).values()
    assert link == invoice["Id"]


def _odd_invoice(ledger: Ledger, billed: BilledOrder) -> dict[str, Any]:
    """A new invoice of ``billed``'s order, in a currency the ERP mapping does not map."""
    return {**_second_invoice(ledger, billed), "currency": {"internalId": "99"}}


def _second_invoice(ledger: Ledger, billed: BilledOrder) -> dict[str, Any]:
    """A second invoice of ``billed``'s order (so of the same customer)."""
    with ledger.store.engine.connect() as connection:
        order = next(
            r.payload for b in iter_stored(connection, "order") for r in b
            if r.canonical_id == billed.order_id
        )  # fmt: skip
        refs = xref_entries(connection, "erp", [order["id"], order["account_id"]])
    return erp_invoice(order, {k: v.external_id for k, v in refs.items()}, 99)


def test_the_demo_ends_with_a_paid_and_a_part_paid_invoice_at_their_balances_in_salesforce(
    tmp_path: Path,
) -> None:
    result = run_demo(tmp_path / "demo.db", SandboxSize(accounts=4, orders=12, products=3))

    paid, also_paid, part_paid, *unpaid = result.balances
    assert (paid.balance, also_paid.balance) == (0, 0)
    assert part_paid.balance == part_paid.total - part_paid.paid > 0
    assert all(invoice.balance == invoice.total and not invoice.paid for invoice in unpaid)
    lines = result.balance_lines()
    assert "paid in full" in lines[0]
    assert lines[0].endswith("balance 0.00")
    assert lines[2].endswith(f"balance {part_paid.balance:,.2f}")
