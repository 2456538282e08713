"""The sandbox org's CPQ data, child-page limits, recycle bin and Bulk refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config.settings import RetrySettings
from connectors.base import ChildSpec, ReadSpec, WriteSpec
from connectors.errors import ConfigError
from connectors.salesforce.connector import SalesforceConnector
from sandboxes.salesforce.org import CHILD_BATCH
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings

QUOTES = ReadSpec(
    "SBQQ__Quote__c",
    ("Name", "SBQQ__Account__r.Name", "SBQQ__PrimaryContact__r.Email", "SBQQ__Status__c",
     "SBQQ__NetAmount__c", "SBQQ__StartDate__c", "CurrencyIsoCode"),
    children=(ChildSpec("SBQQ__LineItems__r", ("SBQQ__Quantity__c", "SBQQ__NetTotal__c",
                                               "SBQQ__Product__c")),),
    page_size=200,
)  # fmt: skip


def _no_sleep(seconds: float) -> None:
    """Retries in these tests never really wait."""


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=10, orders=60, products=6) as started:
        yield started


@pytest.fixture
def connector(sandbox: SalesforceSandbox) -> Iterator[SalesforceConnector]:
    opened = SalesforceConnector(
        salesforce_settings(sandbox), RetrySettings(attempts=2), sleep=_no_sleep
    )
    yield opened
    opened.close()


def test_cpq_quotes_read_with_their_line_items_and_parent_fields(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    quotes = [r for page in connector.read(QUOTES, None) for r in page.records]
    orders_with_quotes = [o for o in sandbox.records("Order") if o["SBQQ__Quote__c"]]
    assert {q["Id"] for q in quotes} == {o["SBQQ__Quote__c"] for o in orders_with_quotes}
    quote = quotes[0]
    assert quote["SBQQ__Account__r"]["Name"]
    assert "@" in quote["SBQQ__PrimaryContact__r"]["Email"]
    net = sum(line["SBQQ__NetTotal__c"] for line in quote["SBQQ__LineItems__r"])
    assert quote["SBQQ__NetAmount__c"] == pytest.approx(net)


def test_activated_quoted_orders_are_contracted_with_subscriptions(
    sandbox: SalesforceSandbox,
) -> None:
    contracts = {c["Id"]: c for c in sandbox.records("Contract")}
    subscriptions = sandbox.records("SBQQ__Subscription__c")
    assert contracts
    assert subscriptions
    assert {s["SBQQ__Contract__c"] for s in subscriptions} <= set(contracts)
    for order in sandbox.records("Order"):
        if order["ContractId"]:
            assert contracts[order["ContractId"]]["SBQQ__Order__c"] == order["Id"]
            assert order["Status"] == "Activated"


def test_children_past_one_child_page_are_followed(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    quote_id = sandbox.records("SBQQ__Quote__c")[0]["Id"]
    spec = WriteSpec("SBQQ__QuoteLine__c", "Revbridge_Id__c")
    lines = [{"Revbridge_Id__c": f"many-{n}", "SBQQ__Quote__c": quote_id, "SBQQ__Quantity__c": 1}
             for n in range(CHILD_BATCH + 50)]  # fmt: skip
    assert all(r.ok for r in connector.write(spec, lines))
    [quote] = connector.fetch(QUOTES, [quote_id])
    expected = [r["Id"] for r in sandbox.records("SBQQ__QuoteLine__c")
                if r["SBQQ__Quote__c"] == quote_id]  # fmt: skip
    assert sorted(line["Id"] for line in quote["SBQQ__LineItems__r"]) == sorted(expected)
    assert len(expected) > CHILD_BATCH


def test_recycle_bin_keeps_deleted_rows_for_query_all_until_emptied(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    spec = ReadSpec("Contact", ("LastName", "MailingAddress"), page_size=200)
    victim = sandbox.records("Contact")[0]["Id"]
    sandbox.delete_record("Contact", victim)
    [deleted] = connector.fetch(spec, [victim])
    assert deleted["IsDeleted"] is True
    sandbox.undelete_record("Contact", victim)
    assert connector.fetch(spec, [victim])[0]["IsDeleted"] is False
    sandbox.delete_record("Contact", victim)
    sandbox.empty_recycle_bin()
    assert connector.fetch(spec, [victim]) == []


def test_bulk_query_with_a_child_subquery_is_refused_by_the_org(
    connector: SalesforceConnector,
) -> None:
    soql = "SELECT Id, (SELECT Id FROM OrderItems) FROM Order"
    with pytest.raises(ConfigError, match="Aggregate Relationships"):
        list(connector._bulk.query(soql, 1000))
