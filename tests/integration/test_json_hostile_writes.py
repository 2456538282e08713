"""JSON targets refuse, per record and before the call, what JSON or the field can't carry.

``json.dumps`` would write ``NaN`` (which no strict parser takes, so the whole batch would be
refused) and requests refuses to encode NaN at all (the whole Composite request would fail,
unclassified). A lone surrogate has no UTF-8 form. Salesforce's number and date fields hold
only so much. Each such record is rejected alone, naming the field; the others land.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from config.settings import RetrySettings
from connectors.base import WriteOutcome, WriteResult, WriteSpec
from connectors.billing.profile_file import SHIPPED_PROFILE
from connectors.salesforce.connector import SalesforceConnector
from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings
from tests.integration.billing_harness import MakeConnector, connector_factory

CUSTOMERS = WriteSpec("customers", "external_id")
PRODUCTS = WriteSpec("Product2", "Revbridge_Id__c")
CONTRACTS = WriteSpec("Contract", "Revbridge_Id__c")
UNPARSEABLE = [{"message": "Unexpected character ('N')", "errorCode": "JSON_PARSER_ERROR"}]


def _rejected(results: list[WriteResult]) -> dict[str, WriteResult]:
    return {r.external_id: r for r in results if r.outcome is WriteOutcome.REJECTED}


@pytest.fixture(scope="module")
def billing() -> Iterator[BillingSandbox]:
    with BillingSandbox() as running:
        yield running


@pytest.fixture
def make_billing(billing: BillingSandbox) -> Iterator[MakeConnector]:
    billing.reset()
    with connector_factory(billing, []) as make:
        yield make


@pytest.fixture(scope="module")
def salesforce() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=2, orders=2, products=2) as running:
        yield running


def _salesforce(sandbox: SalesforceSandbox, **overrides: Any) -> SalesforceConnector:
    settings = salesforce_settings(sandbox, **overrides)
    return SalesforceConnector(settings, RetrySettings(attempts=2), sleep=lambda _: None)


def _profile_without_batch(tmp_path: Path) -> Path:
    text = SHIPPED_PROFILE.read_text(encoding="utf-8")
    start = text.index("  batch:")
    end = text.index("max_records: 100\n", start) + len("max_records: 100\n")
    path = tmp_path / "no-batch.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    return path


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "one-by-one"])
def test_billing_refuses_nan_infinity_and_lone_surrogates_per_record(
    make_billing: MakeConnector, billing: BillingSandbox, batch: bool, tmp_path: Path
) -> None:
    single = {} if batch else {"profile_file": _profile_without_batch(tmp_path)}
    connector = make_billing(**single)
    customers: list[dict[str, Any]] = [
        {"external_id": f"c{n}", "name": f"Customer {n}", "currency": "USD"} for n in range(5)
    ]
    customers[1]["name"] = "A\ud800"
    customers[2]["phone"] = float("nan")
    customers[3]["address"] = {"line1": float("inf")}

    results = connector.write(CUSTOMERS, customers)

    rejected = _rejected(results)
    assert sorted(rejected) == ["c1", "c2", "c3"]
    assert "name contains lone surrogate U+D800 at position 2" in rejected["c1"].error_message
    assert "phone is nan; JSON has no NaN or infinity" in rejected["c2"].error_message
    assert "address.line1 is inf" in rejected["c3"].error_message
    assert sorted(r["external_id"] for r in billing.resources("customers")) == ["c0", "c4"]
    assert billing.calls == (1 if batch else 2)  # nothing was sent for the refused records


def test_billing_takes_control_characters_astral_text_and_long_decimal_strings(
    make_billing: MakeConnector, billing: BillingSandbox
) -> None:
    name = "Bad\x00Nul\x1bEsc \U0001f600"
    customer = {"external_id": "c0", "name": name, "currency": "USD"}

    results = make_billing().write(CUSTOMERS, [customer])

    assert [r.outcome for r in results] == [WriteOutcome.CREATED]
    assert billing.resources("customers")[0]["name"] == name


def test_salesforce_refuses_unsendable_and_out_of_range_values_per_record(
    salesforce: SalesforceSandbox,
) -> None:
    connector = _salesforce(salesforce)
    products: list[dict[str, Any]] = [
        {"Revbridge_Id__c": f"p{n}", "Name": f"Product {n}", "SBQQ__SubscriptionTerm__c": "12"}
        for n in range(6)
    ]
    products[1]["SBQQ__SubscriptionTerm__c"] = float("nan")
    products[2]["Name"] = "B\udfff"
    products[3]["SBQQ__SubscriptionTerm__c"] = Decimal("1234567890123456789012345678901234567891")
    products[4]["SBQQ__SubscriptionTerm__c"] = "a lot"

    results = connector.write(PRODUCTS, products)
    connector.close()

    rejected = _rejected(results)
    assert sorted(rejected) == ["p1", "p2", "p3", "p4"]
    assert {r.error_code for r in rejected.values()} == {"INVALID_PAYLOAD"}
    assert rejected["p1"].error_fields == ("SBQQ__SubscriptionTerm__c",)
    assert "is nan; JSON has no NaN" in rejected["p1"].error_message
    assert "Name contains lone surrogate U+DFFF" in rejected["p2"].error_message
    assert "has 40 digits before the decimal point" in rejected["p3"].error_message
    assert "holds 5 (precision 5, scale 0)" in rejected["p3"].error_message
    assert "is not a number: 'a lot'" in rejected["p4"].error_message
    landed = {r["Revbridge_Id__c"] for r in salesforce.records("Product2")}
    assert {"p0", "p5"} <= landed
    assert not {"p1", "p2", "p3", "p4"} & landed


@pytest.mark.parametrize(
    ("start", "landed"),
    [("1700-01-01", True), ("4000-12-31", True), ("1699-12-31", False), ("9999-01-01", False),
     ("0001-01-01", False), ("2024-02-30", False)],
)  # fmt: skip
def test_salesforce_dates_outside_its_range_reject_the_record(
    salesforce: SalesforceSandbox, start: str, landed: bool
) -> None:
    connector = _salesforce(salesforce)
    account = salesforce.records("Account")[0]["Id"]
    contract = {"Revbridge_Id__c": f"k-{start}", "AccountId": account, "StartDate": start}

    [result] = connector.write(CONTRACTS, [contract])
    connector.close()

    assert result.ok is landed, result
    if not landed:
        assert result.error_fields == ("StartDate",)
        assert "StartDate" in result.error_message


def test_a_collections_call_refused_for_its_records_rejects_them_without_composite(
    salesforce: SalesforceSandbox,
) -> None:
    # API 47.0 has no ordered Composite: each Collections upsert is a call of its own, and a
    # 400 for what its records hold was a ConfigError that failed the whole run.
    connector = _salesforce(salesforce, api_version="47.0")
    connector.describe("Product2")
    salesforce.inject_fault(400, UNPARSEABLE)

    results = connector.write(PRODUCTS, [{"Revbridge_Id__c": "q1", "Name": "Q"}])
    connector.close()

    assert [(r.outcome, r.error_code) for r in results] == [
        (WriteOutcome.REJECTED, "JSON_PARSER_ERROR")
    ]
