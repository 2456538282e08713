"""The Salesforce connector against the loopback sandbox, through the real simple-salesforce."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from pydantic import SecretStr

from config.settings import RetrySettings
from connectors.base import ChildSpec, Connector, Cursor, Page, ReadSpec, WriteOutcome, WriteSpec
from connectors.errors import AuthError, ConfigError, RateLimited, TransientError
from connectors.salesforce.connector import SalesforceConnector, build_read_soql
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings

MARKER = "marker-S3cr3t-do-not-leak"
ORDERS = ReadSpec(
    "Order",
    ("AccountId", "Status", "TotalAmount", "Account.Name"),
    children=(ChildSpec("OrderItems", ("Quantity", "UnitPrice", "TotalPrice")),),
    page_size=200,
)
ACCOUNTS = ReadSpec("Account", ("Name", "CurrencyIsoCode"), page_size=200)
ACCOUNT_WRITES = WriteSpec("Account", "Revbridge_Id__c")


def _no_sleep(seconds: float) -> None:
    """Retries in these tests never really wait."""


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=12, orders=450, products=8) as started:
        yield started


@pytest.fixture
def connector(sandbox: SalesforceSandbox) -> Iterator[SalesforceConnector]:
    opened = SalesforceConnector(
        salesforce_settings(sandbox), RetrySettings(attempts=3), sleep=_no_sleep
    )
    yield opened
    opened.close()


def _stamp_and_id(record: dict[str, object]) -> tuple[datetime, str]:
    stamp = datetime.strptime(str(record["SystemModstamp"]), "%Y-%m-%dT%H:%M:%S.%f%z")
    return stamp, str(record["Id"])


def _ids(pages: list[Page]) -> list[str]:
    return [str(record["Id"]) for page in pages for record in page.records]


def test_connector_satisfies_the_protocol(connector: SalesforceConnector) -> None:
    assert isinstance(connector, Connector)
    assert connector.system == "salesforce"


def test_check_logs_in_and_reads_limits_and_api_usage(connector: SalesforceConnector) -> None:
    connector.check()
    assert connector.api_calls == 1
    assert connector.api_usage == (1, 15000)


def test_bad_password_raises_auth_error_naming_user_and_url_but_no_secret(
    sandbox: SalesforceSandbox,
) -> None:
    settings = salesforce_settings(
        sandbox,
        password=SecretStr(MARKER),
        security_token=SecretStr(MARKER + "-token"),
        client_secret=SecretStr(sandbox.credentials.client_secret),
    )
    connector = SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep)
    with pytest.raises(AuthError) as raised:
        connector.check()
    text = f"{raised.value} {raised.value!r} {raised.value.__cause__!r} {connector!r}"
    assert sandbox.url in str(raised.value)
    assert sandbox.credentials.username in str(raised.value)
    assert "invalid_grant" in str(raised.value)
    assert MARKER not in text
    assert MARKER not in repr(settings)


def test_unreachable_login_is_transient_and_keeps_the_secret_out(
    sandbox: SalesforceSandbox,
) -> None:
    with SalesforceSandbox(accounts=2, orders=1, products=1) as gone:
        closed_url = gone.url
    settings = salesforce_settings(sandbox, login_url=closed_url, password=SecretStr(MARKER))
    connector = SalesforceConnector(settings, RetrySettings(attempts=2), sleep=_no_sleep)
    with pytest.raises(TransientError) as raised:
        connector.check()
    assert MARKER not in f"{raised.value} {raised.value!r}"


def test_missing_ca_bundle_is_a_config_error(sandbox: SalesforceSandbox) -> None:
    settings = salesforce_settings(sandbox, ca_bundle=sandbox.ca_bundle.with_name("missing.pem"))
    with pytest.raises(ConfigError):
        SalesforceConnector(settings, RetrySettings())


def test_incremental_read_pages_every_record_once_in_stamp_then_id_order(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    pages = list(connector.read(ORDERS, None))
    ids = _ids(pages)
    assert [len(page.records) for page in pages] == [200, 200, 50]
    assert sorted(ids) == sorted(r["Id"] for r in sandbox.records("Order"))
    assert len(set(ids)) == len(ids)
    records = [record for page in pages for record in page.records]
    assert records == sorted(records, key=_stamp_and_id)
    assert connector.api_calls == len(pages)
    assert pages[-1].cursor == Cursor(records[-1]["SystemModstamp"], records[-1]["Id"])


def test_resuming_from_a_cursor_inside_a_stamp_tie_neither_skips_nor_repeats(
    connector: SalesforceConnector,
) -> None:
    pages = list(connector.read(ORDERS, None))
    tied = [
        index
        for index, page in enumerate(pages[:-1])
        if page.cursor is not None
        and pages[index + 1].records[0]["SystemModstamp"] == page.cursor.modified
    ]
    assert tied, "the seeded data must put a stamp tie across a page boundary"
    index = tied[0]
    resumed = list(connector.read(ORDERS, pages[index].cursor))
    assert _ids(resumed) == _ids(pages[index + 1 :])


def test_child_order_items_arrive_as_plain_lists(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    records = [record for page in connector.read(ORDERS, None) for record in page.records]
    items_by_order: dict[str, set[str]] = {}
    for item in sandbox.records("OrderItem"):
        items_by_order.setdefault(item["OrderId"], set()).add(item["Id"])
    for record in records:
        assert isinstance(record["OrderItems"], list)
        assert {item["Id"] for item in record["OrderItems"]} == items_by_order[record["Id"]]
        assert all("attributes" not in item for item in record["OrderItems"])
    assert "attributes" not in records[0]
    assert "attributes" not in records[0]["Account"]


def test_order_without_lines_reads_an_empty_list(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    account_id = sandbox.records("Account")[0]["Id"]
    order = {"Revbridge_Id__c": "rb-order-1", "AccountId": account_id, "Status": "Draft",
             "EffectiveDate": "2026-02-01"}  # fmt: skip
    [created] = connector.write(WriteSpec("Order", "Revbridge_Id__c"), [order])
    assert created.outcome is WriteOutcome.CREATED
    records = [r for page in connector.read(ORDERS, None) for r in page.records]
    [new_order] = [r for r in records if r["Id"] == created.target_id]
    assert new_order["OrderItems"] == []


def _last_cursor(connector: SalesforceConnector, spec: ReadSpec) -> Cursor:
    pages = list(connector.read(spec, None))
    assert pages[-1].cursor is not None
    return pages[-1].cursor


def test_query_all_reports_a_soft_deleted_record_apart_from_live_ones(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    cursor = _last_cursor(connector, ACCOUNTS)
    victim = sandbox.records("Account")[3]["Id"]
    sandbox.delete_record("Account", victim)
    [page] = list(connector.read(ACCOUNTS, cursor))
    assert page.records == []
    assert [(r["Id"], r["IsDeleted"]) for r in page.deleted] == [(victim, True)]
    assert page.cursor is not None
    assert page.cursor.record_id == victim


def test_updated_order_line_brings_back_its_order_with_the_new_total(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    cursor = _last_cursor(connector, ORDERS)
    assert list(connector.read(ORDERS, cursor)) == []
    line = sandbox.records("OrderItem")[10]
    sandbox.update_record("OrderItem", line["Id"], {"Quantity": 1000})
    [page] = list(connector.read(ORDERS, cursor))
    [order] = page.records
    assert order["Id"] == line["OrderId"]
    assert order["TotalAmount"] == sum(item["TotalPrice"] for item in order["OrderItems"])
    assert line["UnitPrice"] * 1000 in [item["TotalPrice"] for item in order["OrderItems"]]


def test_updated_account_comes_back_on_the_next_incremental_read(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    cursor = _last_cursor(connector, ACCOUNTS)
    account_id = sandbox.records("Account")[0]["Id"]
    sandbox.update_record("Account", account_id, {"Name": "Renamed Inc"})
    [page] = list(connector.read(ACCOUNTS, cursor))
    assert [(r["Id"], r["Name"]) for r in page.records] == [(account_id, "Renamed Inc")]


def test_upsert_creates_then_updates_and_rejects_one_record_of_a_batch(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    [first] = connector.write(ACCOUNT_WRITES, [{"Revbridge_Id__c": "rb-1", "Name": "One"}])
    results = connector.write(
        ACCOUNT_WRITES,
        [
            {"Revbridge_Id__c": "rb-1", "Name": "One, renamed"},
            {"Revbridge_Id__c": "rb-2", "Name": "Two"},
            {"Revbridge_Id__c": "rb-3", "Phone": "no name"},
        ],
    )
    assert first.outcome is WriteOutcome.CREATED
    assert [r.outcome for r in results] == [
        WriteOutcome.UPDATED, WriteOutcome.CREATED, WriteOutcome.REJECTED,
    ]  # fmt: skip
    assert results[0].target_id == first.target_id
    assert (results[2].external_id, results[2].error_code) == ("rb-3", "REQUIRED_FIELD_MISSING")
    assert results[2].error_fields == ("Name",)
    names = {r["Revbridge_Id__c"]: r["Name"] for r in sandbox.records("Account")}
    assert names["rb-1"] == "One, renamed"
    assert "rb-3" not in names


def test_upsert_rejects_a_too_long_value_per_record(connector: SalesforceConnector) -> None:
    results = connector.write(
        ACCOUNT_WRITES,
        [
            {"Revbridge_Id__c": "rb-10", "Name": "Ten"},
            {"Revbridge_Id__c": "rb-11", "Name": "x" * 300},
        ],
    )
    assert [r.error_code for r in results] == ["", "STRING_TOO_LONG"]
    assert results[1].error_fields == ("Name",)


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (
            {"Revbridge_Id__c": "rb-9", "Name": "Nine", "SystemModstamp": "2026-01-01"},
            "SystemModstamp",
        ),
        ({"Revbridge_Id__c": "rb-10", "Name": "Ten", "Colour__c": "red"}, "Colour__c"),
        ({"Revbridge_Id__c": "rb-12", "Name": "Twelve", "BillingAddress": {}}, "BillingAddress"),
    ],
)
def test_unknown_or_read_only_fields_are_refused_before_any_write_call(
    sandbox: SalesforceSandbox,
    connector: SalesforceConnector,
    payload: dict[str, object],
    named: str,
) -> None:
    connector.describe("Account")
    before = sandbox.api_calls
    with pytest.raises(ConfigError) as raised:
        connector.write(ACCOUNT_WRITES, [payload])
    assert named in str(raised.value)
    assert sandbox.api_calls == before


def test_upsert_on_a_field_that_is_not_an_external_id_is_a_config_error(
    connector: SalesforceConnector,
) -> None:
    with pytest.raises(ConfigError, match="not an External ID"):
        connector.write(WriteSpec("Account", "Name"), [{"Name": "x"}])


@pytest.mark.parametrize(("per_call", "calls"), [(1, 2), (5, 1)])
def test_201_records_are_upserted_in_two_collections_each_its_own_call_or_one_composite(
    sandbox: SalesforceSandbox, per_call: int, calls: int
) -> None:
    payloads = [{"Revbridge_Id__c": f"rb-bulk-{n}", "Name": f"Bulk {n}"} for n in range(201)]
    settings = salesforce_settings(sandbox, composite_subrequests=per_call)
    connector = SalesforceConnector(settings, RetrySettings(attempts=3), sleep=_no_sleep)
    connector.describe("Account")
    before = sandbox.api_calls
    results = connector.write(ACCOUNT_WRITES, payloads)
    connector.close()
    assert sandbox.api_calls - before == calls
    assert [r.external_id for r in results] == [p["Revbridge_Id__c"] for p in payloads]
    assert {r.outcome for r in results} == {WriteOutcome.CREATED}


def test_expired_session_logs_in_again_once_and_the_call_succeeds(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    connector.check()
    sandbox.expire_sessions()
    before = sandbox.api_calls
    pages = list(connector.read(ACCOUNTS, None))
    assert len(_ids(pages)) == len(sandbox.records("Account"))
    assert sandbox.api_calls - before == 2


def test_session_refused_after_a_fresh_login_is_an_auth_error_not_a_loop(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    sandbox.inject_fault(401, expired, times=5)
    with pytest.raises(AuthError):
        connector.check()
    assert sandbox.api_calls == 2


def test_expired_configured_session_id_is_an_auth_error(sandbox: SalesforceSandbox) -> None:
    settings = salesforce_settings(
        sandbox,
        username=None,
        password=None,
        session_id=SecretStr(MARKER),
        instance_url=sandbox.url,
    )
    connector = SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep)
    with pytest.raises(AuthError) as raised:
        connector.check()
    assert MARKER not in str(raised.value)


def test_injected_503_is_retried_and_then_succeeds(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    sandbox.inject_fault(503, [{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}], times=2)
    connector.check()
    assert sandbox.api_calls == 3


def test_persistent_503_raises_transient_error_after_the_configured_attempts(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    sandbox.inject_fault(503, [{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}], times=9)
    with pytest.raises(TransientError):
        list(connector.read(ACCOUNTS, None))
    assert sandbox.api_calls == 3


def test_unable_to_lock_row_is_retried(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    connector.describe("Account")
    sandbox.inject_fault(400, [{"message": "locked", "errorCode": "UNABLE_TO_LOCK_ROW"}])
    [result] = connector.write(ACCOUNT_WRITES, [{"Revbridge_Id__c": "rb-lock", "Name": "L"}])
    assert result.outcome is WriteOutcome.CREATED


def test_request_limit_exceeded_raises_rate_limited_without_retrying(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    sandbox.inject_fault(403, body, times=3)
    with pytest.raises(RateLimited):
        connector.check()
    assert sandbox.api_calls == 1


@pytest.mark.parametrize(
    "spec",
    [
        ReadSpec("Account", ("Colour__c",)),
        ReadSpec("Invoice__c", ("Name",)),
        ReadSpec("Order", ("Status",), children=(ChildSpec("Lines", ("Id",)),)),
    ],
)
def test_unknown_object_or_field_is_a_config_error(
    connector: SalesforceConnector, spec: ReadSpec
) -> None:
    with pytest.raises(ConfigError):
        list(connector.read(spec, None))


def test_describe_returns_field_metadata(connector: SalesforceConnector) -> None:
    described = connector.describe("Order")
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["Revbridge_Id__c"]["externalId"] is True
    assert fields["TotalAmount"]["updateable"] is False


def test_read_soql_quotes_the_cursor_id_and_keeps_milliseconds() -> None:
    soql = build_read_soql(
        ReadSpec("Account", ("Name",)), Cursor("2026-01-05T10:00:00.250+0000", "001' OR Id != '")
    )
    assert soql == (
        "SELECT Id, SystemModstamp, IsDeleted, Name FROM Account WHERE (SystemModstamp > "
        "2026-01-05T10:00:00.250Z OR (SystemModstamp = 2026-01-05T10:00:00.250Z AND "
        "Id > '001\\' OR Id != \\'')) ORDER BY SystemModstamp, Id"
    )


def test_read_soql_puts_the_mapping_filter_beside_the_cursor_condition() -> None:
    spec = ReadSpec("Order", ("Status",), filter="Status != 'Draft'")
    soql = build_read_soql(spec, Cursor("2026-01-05T10:00:00.000+0000", "801A"))
    assert " WHERE (Status != 'Draft') AND (SystemModstamp > " in soql


def test_filter_limits_what_an_incremental_read_returns(connector: SalesforceConnector) -> None:
    spec = ReadSpec("Order", ("Status",), filter="Status = 'Draft'")
    statuses = {r["Status"] for page in connector.read(spec, None) for r in page.records}
    assert statuses == {"Draft"}


def test_fetch_returns_the_current_state_of_the_given_records(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    orders = sandbox.records("Order")[:3]
    sandbox.update_record("Order", orders[0]["Id"], {"Status": "Cancelled"})
    spec = ReadSpec("Order", ("Status",), children=(ChildSpec("OrderItems", ("Quantity",)),))

    fetched = connector.fetch(spec, [o["Id"] for o in orders] + ["8015g0000009999AAA"])

    assert {r["Id"] for r in fetched} == {o["Id"] for o in orders}
    by_id = {r["Id"]: r for r in fetched}
    assert by_id[orders[0]["Id"]]["Status"] == "Cancelled"
    assert all(isinstance(r["OrderItems"], list) and r["OrderItems"] for r in fetched)


@pytest.mark.parametrize(
    "spec",
    [ReadSpec("Account", ("Name; DELETE",)), ReadSpec("Account x", ("Name",))],
)
def test_read_soql_refuses_names_that_are_not_api_names(spec: ReadSpec) -> None:
    with pytest.raises(ConfigError):
        build_read_soql(spec, None)


def test_a_like_filter_reaches_the_org_through_simple_salesforce(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    first_letter = sandbox.records("Account")[0]["Name"][0]
    spec = ReadSpec("Account", ("Name",), filter=f"Name LIKE '{first_letter.lower()}%'")
    names = [r["Name"] for page in connector.read(spec, None) for r in page.records]
    prefix = first_letter.lower()
    expected = [a["Name"] for a in sandbox.records("Account")
                if a["Name"].lower().startswith(prefix) and not a["IsDeleted"]]  # fmt: skip
    assert names
    assert sorted(names) == sorted(expected)
