"""The receivables flow: ERP invoices and payments land in Salesforce Billing's objects.

Quote-to-cash first puts accounts, products and orders in the ERP; finance then invoices a few
orders there and records payments (:mod:`sync.cli.demo_receivables`), and a ``receivables`` run
with the ERP as its source writes them to Salesforce through simple-salesforce, with lookups to
the Salesforce accounts and orders they came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import WriteSpec
from connectors.erp.connector import ErpConnector
from mappings.loader import load_mapping_set
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.demo_receivables import BilledOrder, bill_orders, ticking_clock
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH, RECEIVABLES, Flow
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.error_queue import list_errors
from sync.store.records import iter_stored

SIZE = SandboxSize(accounts=4, orders=16, products=4, invalid_records=False, page_size=200)


class Receivables:
    """Sandboxes after quote-to-cash, with four orders invoiced in the ERP and two paid."""

    def __init__(self, sandboxes: Sandboxes, database_url: str) -> None:
        self.sandboxes = sandboxes
        self.settings = sandboxes.settings(database_url)
        self.store = Store(database_url)
        self.mappings = load_mapping_set()
        assert self.run(QUOTE_TO_CASH).rejected == 0
        self.billed: list[BilledOrder] = bill_orders(self.store, self.erp(), 4, 2)

    def erp(self) -> ErpConnector:
        return ErpConnector(self.settings.erp, self.settings.retry, wsdl_cache=None)

    def write_erp(self, record_type: str, records: list[dict[str, Any]]) -> None:
        erp = self.erp()
        try:
            assert all(r.ok for r in erp.write(WriteSpec(record_type, "externalId"), records))
        finally:
            erp.close()

    def run(self, flow: Flow = RECEIVABLES) -> RunSummary:
        with open_connectors(self.settings) as connectors:
            return SyncEngine(self.store, self.mappings, connectors, flow).run()

    def salesforce(self, object_name: str) -> dict[str, dict[str, Any]]:
        """Salesforce records of ``object_name`` by revbridge's external id."""
        records = self.sandboxes.salesforce.records(object_name)
        return {r["Revbridge_Id__c"]: r for r in records if r["Revbridge_Id__c"]}

    def stored(self, entity: str) -> dict[str, dict[str, Any]]:
        """Canonical records of ``entity`` by canonical id."""
        with self.store.engine.connect() as connection:
            return {r.canonical_id: r.payload for b in iter_stored(connection, entity) for r in b}


@pytest.fixture
def receivables(database_url: str) -> Iterator[Receivables]:
    sandboxes = Sandboxes(SIZE)
    # A second per reading: what finance just saved is already older than the ERP search's
    # upper bound (its clock minus a second).
    sandboxes.erp = ErpSandbox(clock=ticking_clock())
    with sandboxes:
        prepared = Receivables(sandboxes, database_url)
        yield prepared
        prepared.store.close()


def test_erp_invoices_and_payments_land_in_salesforce_with_lookups_resolved(
    receivables: Receivables,
) -> None:
    summary = receivables.run()

    assert summary.rejected == 0, summary.message
    invoices, orders = receivables.stored("invoice"), receivables.stored("order")
    accounts = receivables.stored("account")
    landed = receivables.salesforce("blng__Invoice__c")
    due = {billed.invoice["tranId"]: billed.amount_due for billed in receivables.billed}
    assert set(landed) == set(invoices)
    for canonical_id, invoice in invoices.items():
        row = landed[canonical_id]
        order = orders[invoice["order_id"]]
        assert row["blng__Account__c"] == accounts[invoice["account_id"]]["source"]["id"]
        assert row["blng__Order__c"] == order["source"]["id"]
        assert row["Revbridge_Number__c"] == invoice["invoice_number"]
        assert (row["blng__InvoiceStatus__c"], row["CurrencyIsoCode"]) == (
            "Posted",
            order["currency"],
        )
        # What is still owed once the invoice's payment is applied in the ERP.
        assert Decimal(str(row["Revbridge_Balance__c"])) == due[invoice["invoice_number"]]
        assert row["blng__DueDate__c"] == invoice["due_date"]
    payments = receivables.salesforce("blng__Payment__c")
    assert set(payments) == set(receivables.stored("payment"))
    assert len(payments) == 2
    paid = {billed.order_id: billed for billed in receivables.billed if billed.payment}
    amounts = sorted(Decimal(str(p["blng__Amount__c"])) for p in payments.values())
    assert amounts == sorted(Decimal(orders[order_id]["total"]) for order_id in paid)
    assert {p["blng__Status__c"] for p in payments.values()} == {"Posted"}
    assert {p["blng__Account__c"] for p in payments.values()} <= {
        a["source"]["id"] for a in accounts.values()
    }


def test_a_second_receivables_run_writes_nothing(receivables: Receivables) -> None:
    first = receivables.run()
    stamps = {k: r["SystemModstamp"] for k, r in receivables.salesforce("blng__Invoice__c").items()}

    again = receivables.run()

    assert first.systems["salesforce"].created == 6
    assert again.written == 0
    assert again.systems.get("salesforce") is None or again.systems["salesforce"].updated == 0
    after = receivables.salesforce("blng__Invoice__c")
    assert {k: r["SystemModstamp"] for k, r in after.items()} == stamps


def test_an_erp_change_updates_the_salesforce_invoice_without_a_conflict(
    receivables: Receivables,
) -> None:
    receivables.run()
    settled = receivables.billed[-1].invoice  # not paid yet
    receivables.write_erp(
        "Invoice", [{"externalId": settled["externalId"], "amountRemaining": "0"}]
    )

    summary = receivables.run()

    counts = summary.by_entity["invoice"]["salesforce"]
    assert (counts.updated, counts.created, counts.conflicts) == (1, 0, 0)
    balances = [
        r["Revbridge_Balance__c"] for r in receivables.salesforce("blng__Invoice__c").values()
    ]
    assert sorted(balances)[0] == 0


def test_an_invoice_salesforce_refuses_goes_to_the_error_queue_and_the_rest_land(
    receivables: Receivables,
) -> None:
    # Canadian dollars: a currency the org has not activated.
    in_cad = {**receivables.billed[0].invoice, "externalId": "INV-CAD", "tranId": "INV-CAD",
              "currency": {"internalId": "3"}}  # fmt: skip
    receivables.write_erp("Invoice", [in_cad])

    summary = receivables.run()

    assert summary.by_entity["invoice"]["salesforce"].rejected == 1
    assert summary.by_entity["invoice"]["salesforce"].created == 4
    assert len(receivables.salesforce("blng__Payment__c")) == 2
    with receivables.store.engine.connect() as connection:
        (entry,) = list_errors(connection, system="salesforce")
    assert (entry.entity, entry.target_system, entry.source_system) == (
        "invoice",
        "salesforce",
        "erp",
    )
    assert entry.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert "invalid currency code: CAD" in entry.message
    assert entry.payload is not None
    assert entry.payload["CurrencyIsoCode"] == "CAD"
    assert entry.payload["Revbridge_Number__c"] == "INV-CAD"
