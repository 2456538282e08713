"""Reconcile's receivables kinds on both databases, against the loopback sandboxes.

Quote-to-cash fills the ERP; finance invoices three orders there and one is paid; the
receivables flow carries invoices and payments to Salesforce Billing and the billing API.
Then people work behind revbridge's back: an invoice, a credit memo and a payment keyed into
the ERP by hand with nothing to hang on (orphans), a payment recorded in the ERP that never
reached Salesforce (payment status mismatch), a customer and a product made by hand in the
billing UI beside revbridge's own (natural-key duplicates). Each is found exactly once with
its amount, and fixing it resolves it on the next reconcile.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from connectors.erp.connector import ErpConnector
from mappings.loader import load_mapping_set
from mappings.mapping_set import MappingSet
from sandboxes.discrepancies import (
    enter_erp_credit_memo_by_hand,
    enter_erp_invoice_by_hand,
    enter_erp_payment,
    put_unmarked_billing_object,
)
from sandboxes.erp.sandbox import ErpSandbox
from sandboxes.salesforce.faults import SERVER_UNAVAILABLE, error_fault
from sync.cli.app import app
from sync.cli.demo_receivables import BilledOrder, bill_orders, ticking_clock
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH, RECEIVABLES, Flow
from sync.engine.run import SyncEngine
from sync.store import Store
from sync.store.findings import open_findings
from sync.store.records import iter_stored

SIZE = SandboxSize(accounts=3, orders=6, products=3, invalid_records=False, page_size=200)
# The receivables flow as a run that reached billing but not Salesforce.
BILLING_ONLY = Flow(name="receivables", source="erp", targets=("billing",))
runner = CliRunner()


@dataclass
class Books:
    sandboxes: Sandboxes
    store: Store
    mappings: MappingSet
    config: Path
    billed: list[BilledOrder]

    def run(self, flow: Flow) -> None:
        with open_connectors(self.sandboxes.settings(self.store.url)) as connectors:
            summary = SyncEngine(self.store, self.mappings, connectors, flow).run()
        assert summary.rejected == 0

    def reconcile(self, flow: str, *options: str) -> Result:
        arguments = ["reconcile", "-c", str(self.config), "--flow", flow, *options]
        return runner.invoke(app, arguments)

    def findings(self, flow: str) -> list[dict[str, Any]]:
        result = self.reconcile(flow, "--json")
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]

    def erp_ids(self, entity: str) -> dict[str, str]:
        """ERP internalId -> canonical id of the stored ``entity`` records."""
        with self.store.engine.connect() as connection:
            return {r.source_id: r.canonical_id for b in iter_stored(connection, entity) for r in b}


def _by_kind(findings: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [finding for finding in findings if finding["kind"] == kind]


@pytest.fixture
def books(store: Store, tmp_path: Path) -> Iterator[Books]:
    sandboxes = Sandboxes(SIZE)
    sandboxes.erp = ErpSandbox(clock=ticking_clock())
    with sandboxes:
        mappings = load_mapping_set()
        settings = sandboxes.settings(store.url)
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, sandboxes.settings_document(store.url))
        prepared = Books(sandboxes, store, mappings, config, [])
        prepared.run(QUOTE_TO_CASH)
        erp = ErpConnector(settings.erp, settings.retry, wsdl_cache=None)
        try:
            prepared.billed = bill_orders(store, erp, 3, 1)
        finally:
            erp.close()
        prepared.run(RECEIVABLES)
        yield prepared


def _kinds(findings: list[dict[str, Any]]) -> list[str]:
    return sorted(finding["kind"] for finding in findings)


def test_a_clean_receivables_flow_has_no_findings(books: Books) -> None:
    assert books.findings("receivables") == []


def test_orphans_keyed_into_the_erp_are_found_with_their_amounts_and_resolve_when_fixed(
    books: Books,
) -> None:
    erp = books.sandboxes.erp
    invoice = books.billed[2].invoice
    customer, currency = invoice["entity"]["internalId"], invoice["currency"]["internalId"]
    hand_invoice = enter_erp_invoice_by_hand(erp, "HX-1", customer, currency, "250.00")
    memo = enter_erp_credit_memo_by_hand(erp, "HX-2", customer, currency, "40.00")
    payment = enter_erp_payment(erp, "HX-3", customer, currency, "75.00")
    books.run(RECEIVABLES)

    findings = books.findings("receivables")
    assert _kinds(findings) == ["orphan", "orphan", "orphan"]
    got = {
        (f["entity"], f["system_ids"]["erp"]): (f["field"], f["amount_at_risk"]) for f in findings
    }
    assert got == {
        ("invoice", hand_invoice): ("order_id", "250.00"),
        ("credit_memo", memo): ("invoice_id", "40.00"),
        ("payment", payment): ("invoice_id", "75.00"),
    }
    ids = {**books.erp_ids("invoice"), **books.erp_ids("credit_memo"), **books.erp_ids("payment")}
    assert {f["canonical_id"] for f in findings} == {ids[hand_invoice], ids[memo], ids[payment]}

    # Acknowledged by its id from the reconcile's output: it stays so while it is seen.
    (memo_finding,) = [f for f in findings if f["entity"] == "credit_memo"]
    acknowledged = runner.invoke(
        app,
        ["reconcile", "-c", str(books.config), "acknowledge", str(memo_finding["id"]),
         "--note", "goodwill credit agreed by <b>finance</b>"],
    )  # fmt: skip
    assert acknowledged.exit_code == 0, acknowledged.output
    assert {f["id"] for f in books.findings("receivables")} == {f["id"] for f in findings}
    with books.store.engine.connect() as connection:
        (kept,) = [f for f in open_findings(connection) if f.id == memo_finding["id"]]
    assert kept.note == "goodwill credit agreed by <b>finance</b>"

    # Fixed in the ERP: the invoice and the memo voided, the payment applied to an open invoice.
    erp.enter("Invoice", {"externalId": "HAND-HX-1", "status": "Voided"})
    erp.enter("CreditMemo", {"externalId": "HAND-HX-2", "status": "Voided"})
    enter_erp_payment(erp, "HX-3", customer, currency, "75.00", books.billed[2].invoice_id)
    books.run(RECEIVABLES)
    assert books.findings("receivables") == []
    with books.store.engine.connect() as connection:
        assert [f for f in open_findings(connection) if f.finding.flow == "receivables"] == []


def test_a_payment_the_erp_has_and_salesforce_never_got_is_a_payment_status_mismatch(
    books: Books,
) -> None:
    unpaid = books.billed[1]
    assert unpaid.payment is None
    invoice = unpaid.invoice
    enter_erp_payment(
        books.sandboxes.erp,
        "HX-9",
        invoice["entity"]["internalId"],
        invoice["currency"]["internalId"],
        str(invoice["total"]),
        unpaid.invoice_id,
    )
    books.run(BILLING_ONLY)  # the payment reached billing, not Salesforce

    findings = books.findings("receivables")
    (mismatch,) = _by_kind(findings, "payment_status_mismatch")
    # The payment itself is missing there too: stored, never written, nothing queued.
    (unsent,) = _by_kind(findings, "missing_in_target")
    assert len(findings) == 2
    assert (unsent["system"], unsent["entity"], unsent["system_ids"]) == (
        "salesforce",
        "payment",
        {},
    )
    assert unsent["canonical_id"] in books.erp_ids("payment").values()
    total = Decimal(str(invoice["total"]))
    assert (mismatch["kind"], mismatch["system"], mismatch["entity"]) == (
        "payment_status_mismatch",
        "salesforce",
        "invoice",
    )
    assert mismatch["canonical_id"] == books.erp_ids("invoice")[str(unpaid.invoice_id)]
    assert mismatch["field"] == "payment_status"
    assert set(mismatch["expected"]) == {"Revbridge_Balance__c"}
    assert Decimal(str(mismatch["expected"]["Revbridge_Balance__c"])) == 0
    assert Decimal(str(mismatch["actual"]["Revbridge_Balance__c"])) == total
    assert Decimal(mismatch["amount_at_risk"]) == total

    resent = runner.invoke(
        app,
        ["resend", "-c", str(books.config), "--target", "salesforce", "--entity", "invoice"],
    )
    assert resent.exit_code == 0, resent.output
    assert _by_kind(books.findings("receivables"), "payment_status_mismatch") == []
    # A later run sees no change in the payment and sends nothing: only a resend fixes it.
    books.run(RECEIVABLES)
    assert len(_by_kind(books.findings("receivables"), "missing_in_target")) == 1
    resent = runner.invoke(
        app,
        ["resend", "-c", str(books.config), "--target", "salesforce", "--entity", "payment"],
    )
    assert resent.exit_code == 0, resent.output
    assert books.findings("receivables") == []


def test_a_status_edited_by_hand_in_billing_is_a_mismatch_not_drift(books: Books) -> None:
    paid = books.billed[0]
    canonical_id = books.erp_ids("invoice")[str(paid.invoice_id)]
    billing = books.sandboxes.billing
    (stored,) = [r for r in billing.resources("invoices") if r["external_id"] == canonical_id]
    body = {k: v for k, v in stored.items() if k not in ("id", "object", "created", "updated")}
    billing.seed("invoices", [{**body, "status": "open", "amount_due": str(paid.invoice["total"])}])

    (mismatch,) = books.findings("receivables")
    assert (mismatch["kind"], mismatch["system"]) == ("payment_status_mismatch", "billing")
    assert mismatch["expected"]["status"] == "paid"
    assert mismatch["actual"]["status"] == "open"
    assert Decimal(mismatch["amount_at_risk"]) == Decimal(str(paid.invoice["total"]))


def test_hand_made_lookalikes_without_a_marker_are_possible_duplicates(books: Books) -> None:
    billing = books.sandboxes.billing
    customer = billing.resources("customers")[0]
    product = billing.resources("products")[0]
    # Spelled differently, as people type: case and spaces do not hide a duplicate.
    name = "  " + customer["name"].upper().replace(" ", "   ") + " "
    put_unmarked_billing_object(
        billing, "customers", {"name": name, "currency": customer["currency"],
                               "address": {"country": customer["address"]["country"]}},
    )  # fmt: skip
    put_unmarked_billing_object(
        billing, "products", {"name": "[red]x[/red]\x1b[2J", "sku": product["sku"]}
    )

    found = [f for f in books.findings("quote-to-cash") if f["kind"] == "unknown_in_target"]
    by_entity = {f["entity"]: f for f in found}
    assert sorted(by_entity) == ["account", "product"]
    assert len(found) == 2
    assert by_entity["account"]["canonical_id"] == customer["external_id"]
    assert by_entity["account"]["field"] == "name+address.country"
    assert by_entity["account"]["actual"]["name"] == name
    assert by_entity["product"]["canonical_id"] == product["external_id"]
    assert by_entity["product"]["actual"] == {"sku": product["sku"]}

    # Renamed to what it really is: no longer a look-alike.
    put_unmarked_billing_object(billing, "customers", {"name": "Someone Else", "currency": "USD"})
    put_unmarked_billing_object(billing, "products", {"name": "other", "sku": "OTHER-SKU"})
    left = [f for f in books.findings("quote-to-cash") if f["kind"] == "unknown_in_target"]
    assert left == []


def test_an_unmarked_object_like_nothing_revbridge_keeps_is_not_a_finding(books: Books) -> None:
    put_unmarked_billing_object(
        books.sandboxes.billing, "products", {"name": "\u202eevil", "sku": "=HYPERLINK(1)"}
    )
    found = books.findings("quote-to-cash")
    assert [f for f in found if f["kind"] == "unknown_in_target"] == []


def test_hostile_values_in_a_target_invoice_are_a_mismatch_shown_as_text(books: Books) -> None:
    paid = books.billed[0]
    canonical_id = books.erp_ids("invoice")[str(paid.invoice_id)]
    salesforce = books.sandboxes.salesforce
    (record,) = [
        r for r in salesforce.records("blng__Invoice__c") if r["Revbridge_Id__c"] == canonical_id
    ]
    hostile = '[red]PAID[/red]\x1b[2J\u202e=HYPERLINK("x")'
    # Edited by hand (or by a broken trigger): markup, control characters, a balance no number.
    salesforce.update_record(
        "blng__Invoice__c",
        record["Id"],
        {"blng__InvoiceStatus__c": hostile, "Revbridge_Balance__c": "lots"},
    )

    (mismatch,) = books.findings("receivables")
    assert mismatch["system"] == "salesforce"
    assert mismatch["actual"] == {"blng__InvoiceStatus__c": hostile, "Revbridge_Balance__c": "lots"}
    assert Decimal(mismatch["amount_at_risk"]) == Decimal(str(paid.invoice["total"]))
    table = books.reconcile("receivables")
    assert table.exit_code == 0
    assert "[red]PAID[/red]" in table.stdout
    assert "\x1b" not in table.stdout
    assert "\u202e" not in table.stdout
    csv_out = books.reconcile("receivables", "--format", "csv").stdout
    assert "'=HYPERLINK" not in csv_out  # the JSON cell starts with "{", not a formula


def test_a_salesforce_that_fails_stops_the_reconcile_with_one_line_and_records_nothing(
    books: Books,
) -> None:
    erp = books.sandboxes.erp
    invoice = books.billed[2].invoice
    customer, currency = invoice["entity"]["internalId"], invoice["currency"]["internalId"]
    enter_erp_invoice_by_hand(erp, "HX-5", customer, currency, "10.00")
    books.run(RECEIVABLES)
    books.sandboxes.salesforce.faults.at_rate(1.0, error_fault(503, *SERVER_UNAVAILABLE))
    result = books.reconcile("receivables")
    books.sandboxes.salesforce.faults.clear()
    assert result.exit_code == 4
    assert "nothing was recorded" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    with books.store.engine.connect() as connection:
        assert open_findings(connection) == []  # not even the orphan the store alone shows
