"""Invoices with their lines upserted to Salesforce Billing's objects, over simple-salesforce.

sObject Collections can't nest children, so the connector writes an invoice's lines after it,
each pointing at its invoice by external id; the sandbox org resolves those lookups as
Salesforce does.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from config.settings import RetrySettings
from connectors.base import ReadSpec, WriteOutcome, WriteSpec
from connectors.errors import ConfigError
from connectors.salesforce.connector import SalesforceConnector
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings

INVOICES = WriteSpec("blng__Invoice__c", "Revbridge_Id__c")
PAYMENTS = WriteSpec("blng__Payment__c", "Revbridge_Id__c")
LINES = "blng__InvoiceInvoiceLines__r"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=3, orders=4, products=3, invalid_records=False) as started:
        yield started


@pytest.fixture
def connector(sandbox: SalesforceSandbox) -> Iterator[SalesforceConnector]:
    opened = SalesforceConnector(salesforce_settings(sandbox), RetrySettings(attempts=1))
    yield opened
    opened.close()


@pytest.fixture
def ids(sandbox: SalesforceSandbox) -> dict[str, str]:
    return {
        "account": sandbox.records("Account")[0]["Id"],
        "product": sandbox.records("Product2")[0]["Id"],
        "other_product": sandbox.records("Product2")[1]["Id"],
    }


def _line(
    key: str, product_id: str, name: str = "Seats", subtotal: float = 100.0
) -> dict[str, Any]:
    return {"Revbridge_Id__c": key, "Name": name, "blng__Product__c": product_id,
            "blng__Quantity__c": 2, "blng__UnitPrice__c": subtotal / 2,
            "blng__Subtotal__c": subtotal}  # fmt: skip


def _invoice(key: str, account_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Revbridge_Id__c": key, "blng__Account__c": account_id,
            "blng__InvoiceDate__c": "2026-02-01", "blng__DueDate__c": "2026-03-03",
            "blng__InvoiceStatus__c": "Posted", "CurrencyIsoCode": "USD",
            "Revbridge_Balance__c": 150.0, LINES: lines}  # fmt: skip


def _by_key(sandbox: SalesforceSandbox, object_name: str) -> dict[str, dict[str, Any]]:
    return {r["Revbridge_Id__c"]: r for r in sandbox.records(object_name) if r["Revbridge_Id__c"]}


def test_lines_are_written_after_their_invoice_and_point_at_it(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, ids: dict[str, str]
) -> None:
    first = _invoice("inv-a1", ids["account"], [
        _line("inv-a1-1", ids["product"]), _line("inv-a1-2", ids["other_product"], "Support", 50),
    ])  # fmt: skip
    second = _invoice("inv-a2", ids["account"], [_line("inv-a2-1", ids["product"])])

    results = connector.write(INVOICES, [first, second])

    assert [r.outcome for r in results] == [WriteOutcome.CREATED] * 2
    invoices, lines = _by_key(sandbox, "blng__Invoice__c"), _by_key(sandbox, "blng__InvoiceLine__c")
    assert [r.target_id for r in results] == [invoices["inv-a1"]["Id"], invoices["inv-a2"]["Id"]]
    assert {
        key: lines[key]["blng__Invoice__c"] for key in ("inv-a1-1", "inv-a1-2", "inv-a2-1")
    } == {
        "inv-a1-1": invoices["inv-a1"]["Id"],
        "inv-a1-2": invoices["inv-a1"]["Id"],
        "inv-a2-1": invoices["inv-a2"]["Id"],
    }
    assert lines["inv-a1-2"]["blng__Product__c"] == ids["other_product"]
    # The package's roll-up, computed by the org from the lines revbridge wrote.
    assert invoices["inv-a1"]["blng__TotalAmount__c"] == 150.0


def test_writing_the_same_invoice_again_updates_it_without_duplicating_lines(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, ids: dict[str, str]
) -> None:
    invoice = _invoice("inv-b1", ids["account"], [_line("inv-b1-1", ids["product"])])
    connector.write(INVOICES, [invoice])
    line_count = len(sandbox.records("blng__InvoiceLine__c"))

    (again,) = connector.write(INVOICES, [invoice])

    assert again.outcome is WriteOutcome.UPDATED
    assert len(sandbox.records("blng__InvoiceLine__c")) == line_count
    line = _by_key(sandbox, "blng__InvoiceLine__c")["inv-b1-1"]
    assert line["blng__Invoice__c"] == _by_key(sandbox, "blng__Invoice__c")["inv-b1"]["Id"]


def test_a_rejected_line_rejects_its_invoice_with_the_line_reason_and_the_rest_land(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, ids: dict[str, str]
) -> None:
    # Name holds 80 characters.
    too_long = (
        "Premium support, 24/7, with a named engineer and quarterly business reviews, per seat"
    )
    lines = [_line("inv-c1-1", ids["product"]), _line("inv-c1-2", ids["product"], too_long)]
    bad = _invoice("inv-c1", ids["account"], lines)
    good = _invoice("inv-c2", ids["account"], [_line("inv-c2-1", ids["product"])])

    rejected, landed = connector.write(INVOICES, [bad, good])

    assert landed.outcome is WriteOutcome.CREATED
    assert rejected.outcome is WriteOutcome.REJECTED
    assert rejected.external_id == "inv-c1"
    assert rejected.error_code == "STRING_TOO_LONG"
    assert rejected.error_message.startswith(f"{LINES} inv-c1-2: Name: data value too large")
    assert rejected.error_fields == ("Name",)
    lines = _by_key(sandbox, "blng__InvoiceLine__c")
    assert "inv-c1-2" not in lines
    assert {"inv-c1-1", "inv-c2-1"} <= set(lines)


def test_a_lookup_by_an_unknown_external_id_is_rejected_for_that_record_only(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, ids: dict[str, str]
) -> None:
    connector.write(INVOICES, [_invoice("inv-d1", ids["account"], [])])
    payments = [
        {"Revbridge_Id__c": f"pay-{invoice}", "blng__Account__c": ids["account"],
         "blng__Amount__c": 150.0, "blng__Invoice__r": {"Revbridge_Id__c": invoice}}
        for invoice in ("inv-missing", "inv-d1")
    ]  # fmt: skip

    missing, found = connector.write(PAYMENTS, payments)

    assert (missing.outcome, missing.error_code) == (WriteOutcome.REJECTED, "INVALID_FIELD")
    assert "Foreign key external ID: inv-missing not found" in missing.error_message
    assert found.outcome is WriteOutcome.CREATED
    payment = _by_key(sandbox, "blng__Payment__c")["pay-inv-d1"]
    assert payment["blng__Invoice__c"] == _by_key(sandbox, "blng__Invoice__c")["inv-d1"]["Id"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"blng__TotalAmount__c": 150.0}, "blng__Invoice__c.blng__TotalAmount__c is read-only"),
        ({LINES: [{"Revbridge_Id__c": "l-1", "Bogus__c": 1}]}, "blng__InvoiceLine__c has no"),
        ({"blng__Account__r": {"Name": "Acme"}}, "blng__Invoice__c.blng__Account__r must be"),
    ],
)
def test_a_mapping_mistake_is_refused_before_anything_is_written(
    sandbox: SalesforceSandbox,
    connector: SalesforceConnector,
    ids: dict[str, str],
    change: dict[str, Any],
    named: str,
) -> None:
    invoice = {**_invoice("inv-e1", ids["account"], []), **change}

    with pytest.raises(ConfigError, match=named):
        connector.write(INVOICES, [invoice])

    assert "inv-e1" not in _by_key(sandbox, "blng__Invoice__c")


def test_fetch_reads_a_child_relationship_as_the_list_of_its_records(
    connector: SalesforceConnector, ids: dict[str, str]
) -> None:
    lines = [_line("inv-f1-1", ids["product"]), _line("inv-f1-2", ids["other_product"])]
    (written,) = connector.write(INVOICES, [_invoice("inv-f1", ids["account"], lines)])
    spec = ReadSpec("blng__Invoice__c", ("Revbridge_Id__c", LINES), key_field="Id")

    (fetched,) = connector.fetch(spec, [str(written.target_id)])

    assert fetched["Revbridge_Id__c"] == "inv-f1"
    assert [line["Revbridge_Id__c"] for line in fetched[LINES]] == ["inv-f1-1", "inv-f1-2"]
    assert fetched[LINES][1]["blng__Product__c"] == ids["other_product"]


def test_lookups_by_external_id_stay_on_sobject_collections_above_the_bulk_threshold(
    sandbox: SalesforceSandbox, ids: dict[str, str]
) -> None:
    # A Bulk ingest CSV has no nested objects, so lookups by external id can't go that way.
    settings = salesforce_settings(sandbox, bulk_write_threshold=2)
    connector = SalesforceConnector(settings, RetrySettings(attempts=1))
    try:
        connector.write(INVOICES, [_invoice("inv-g1", ids["account"], [])])
        payments = [
            {"Revbridge_Id__c": f"pay-g{n}", "blng__Account__c": ids["account"],
             "blng__Amount__c": 10.0, "blng__Invoice__r": {"Revbridge_Id__c": "inv-g1"}}
            for n in range(3)
        ]  # fmt: skip
        results = connector.write(PAYMENTS, payments)
        assert connector._bulk.last_job_id is None
    finally:
        connector.close()

    assert [r.outcome for r in results] == [WriteOutcome.CREATED] * 3
    invoice_id = _by_key(sandbox, "blng__Invoice__c")["inv-g1"]["Id"]
    landed = _by_key(sandbox, "blng__Payment__c")
    assert {landed[f"pay-g{n}"]["blng__Invoice__c"] for n in range(3)} == {invoice_id}


def test_a_line_salesforce_cannot_hold_rejects_its_invoice_before_anything_is_written(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, ids: dict[str, str]
) -> None:
    huge = {**_line("inv-h1-2", ids["product"]), "blng__UnitPrice__c": Decimal("1e400")}
    bad = _invoice("inv-h1", ids["account"], [_line("inv-h1-1", ids["product"]), huge])
    good = _invoice("inv-h2", ids["account"], [_line("inv-h2-1", ids["product"])])

    rejected, landed = connector.write(INVOICES, [bad, good])

    assert landed.outcome is WriteOutcome.CREATED
    assert rejected.outcome is WriteOutcome.REJECTED
    assert rejected.error_message.startswith(f"{LINES} inv-h1-2: blng__UnitPrice__c")
    # Found before the invoice was sent: neither it nor its good line is in Salesforce.
    assert "inv-h1" not in _by_key(sandbox, "blng__Invoice__c")
    assert "inv-h1-1" not in _by_key(sandbox, "blng__InvoiceLine__c")
    assert "inv-h2-1" in _by_key(sandbox, "blng__InvoiceLine__c")
