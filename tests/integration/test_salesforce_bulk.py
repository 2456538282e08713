"""Bulk API 2.0 reads and ingest writes through the connector, against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config.settings import RetrySettings
from connectors.base import ChildSpec, Page, ReadSpec, WriteOutcome, WriteSpec
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.ingest import UNPROCESSED
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings

ACCOUNTS = ReadSpec(
    "Account",
    ("Name", "CurrencyIsoCode", "BillingCity", "Type", "CreatedDate"),
    page_size=200,
)
LINES = ReadSpec(
    "SBQQ__QuoteLine__c",
    ("SBQQ__Quote__c", "SBQQ__Quantity__c", "SBQQ__ListPrice__c", "SBQQ__StartDate__c",
     "SBQQ__Quote__r.SBQQ__Primary__c", "SBQQ__Product__r.Name", "SBQQ__BillingFrequency__c"),
    page_size=200,
)  # fmt: skip
ACCOUNT_WRITES = WriteSpec("Account", "Revbridge_Id__c")


def _no_sleep(seconds: float) -> None:
    """Polling and retries in these tests never really wait."""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=700, orders=400, products=8) as started:
        yield started


def _connector(sandbox: SalesforceSandbox, **overrides: object) -> SalesforceConnector:
    settings = salesforce_settings(sandbox, **overrides)
    return SalesforceConnector(settings, RetrySettings(attempts=3), sleep=_no_sleep)


def _records(pages: list[Page]) -> list[dict[str, object]]:
    return [record for page in pages for record in page.records]


@pytest.mark.parametrize("spec", [ACCOUNTS, LINES], ids=["accounts", "quote-lines"])
def test_bulk_read_returns_exactly_what_the_rest_read_returns(
    sandbox: SalesforceSandbox, spec: ReadSpec
) -> None:
    rest = _records(list(_connector(sandbox, bulk_read_threshold=0).read(spec, None)))
    bulk_connector = _connector(sandbox, bulk_read_threshold=300)
    bulk_pages = list(bulk_connector.read(spec, None))
    assert bulk_connector._bulk.last_job_id is not None
    assert _records(bulk_pages) == rest
    assert len(rest) > 300
    assert bulk_pages[-1].cursor is not None
    assert bulk_pages[-1].cursor.record_id == rest[-1]["Id"]


def test_bulk_read_follows_locators_page_by_page(sandbox: SalesforceSandbox) -> None:
    connector = _connector(sandbox, bulk_read_threshold=300, bulk_result_page=150)
    before = sandbox.api_calls
    pages = list(connector.read(ACCOUNTS, None))
    assert [len(p.records) for p in pages] == [200, 150, 150, 150, 50]
    # REST page, describe, job, 2 polls (the sandbox says InProgress once), 4 result pages.
    assert sandbox.api_calls - before == 1 + 1 + 1 + 2 + 4
    assert sum(p.api_calls for p in pages) == sandbox.api_calls - before


def test_specs_with_children_stay_on_rest(sandbox: SalesforceSandbox) -> None:
    spec = ReadSpec("Order", ("Status",), children=(ChildSpec("OrderItems", ("Quantity",)),),
                    page_size=200)  # fmt: skip
    connector = _connector(sandbox, bulk_read_threshold=300)
    records = _records(list(connector.read(spec, None)))
    assert connector._bulk.last_job_id is None
    assert all(isinstance(r["OrderItems"], list) for r in records)


def test_compound_address_fields_stay_on_rest_and_nest(sandbox: SalesforceSandbox) -> None:
    spec = ReadSpec("Account", ("BillingAddress",), page_size=200)
    connector = _connector(sandbox, bulk_read_threshold=300)
    records = _records(list(connector.read(spec, None)))
    assert connector._bulk.last_job_id is None
    assert set(records[0]["BillingAddress"]) >= {"street", "city", "postalCode", "country"}


@pytest.fixture
def writer(sandbox: SalesforceSandbox) -> Iterator[SalesforceConnector]:
    connector = _connector(sandbox, bulk_write_threshold=3)
    yield connector
    connector.close()


def test_ingest_job_maps_created_updated_and_rejected_back_per_record(
    sandbox: SalesforceSandbox, writer: SalesforceConnector
) -> None:
    writer.write(
        ACCOUNT_WRITES, [{"Revbridge_Id__c": f"ing-{n}", "Name": f"N{n}"} for n in range(3)]
    )
    payloads = [
        {"Revbridge_Id__c": "ing-1", "Name": "renamed", "Phone": None},
        {"Revbridge_Id__c": "ing-new", "Name": 'New, with "quotes"', "Phone": "+1 1"},
        {"Revbridge_Id__c": "ing-bad", "Phone": "no name"},
    ]
    results = writer.write(ACCOUNT_WRITES, payloads)
    assert writer._bulk.last_job_id is not None
    assert [r.outcome for r in results] == [
        WriteOutcome.UPDATED, WriteOutcome.CREATED, WriteOutcome.REJECTED,
    ]  # fmt: skip
    assert (results[2].error_code, results[2].error_fields) == ("REQUIRED_FIELD_MISSING", ("Name",))
    by_key = {r["Revbridge_Id__c"]: r for r in sandbox.records("Account")}
    assert by_key["ing-1"]["Name"] == "renamed"
    assert by_key["ing-new"]["Name"] == 'New, with "quotes"'
    assert results[1].target_id == by_key["ing-new"]["Id"]


def test_unprocessed_ingest_records_are_rejected_with_a_retry_hint(
    sandbox: SalesforceSandbox, writer: SalesforceConnector
) -> None:
    sandbox.bulk.ingest_abort_after = 2
    try:
        payloads = [{"Revbridge_Id__c": f"unp-{n}", "Name": f"U{n}"} for n in range(4)]
        results = writer.write(ACCOUNT_WRITES, payloads)
    finally:
        sandbox.bulk.ingest_abort_after = None
    assert [r.outcome for r in results[:2]] == [WriteOutcome.CREATED] * 2
    assert [r.error_code for r in results[2:]] == [UNPROCESSED] * 2


def test_create_only_fields_are_left_off_records_that_already_exist(
    sandbox: SalesforceSandbox,
) -> None:
    connector = _connector(sandbox)
    quote_id = sandbox.records("SBQQ__Quote__c")[0]["Id"]
    spec = WriteSpec("SBQQ__QuoteLine__c", "Revbridge_Id__c")
    line = {"Revbridge_Id__c": "ql-1", "SBQQ__Quote__c": quote_id, "SBQQ__Quantity__c": 2}
    [created] = connector.write(spec, [line])
    [updated] = connector.write(spec, [{**line, "SBQQ__Quantity__c": 5}])
    assert (created.outcome, updated.outcome) == (WriteOutcome.CREATED, WriteOutcome.UPDATED)
    [stored] = [r for r in sandbox.records("SBQQ__QuoteLine__c") if r["Revbridge_Id__c"] == "ql-1"]
    assert stored["SBQQ__Quantity__c"] == 5
