"""The ERP connector over real zeep and HTTP against the loopback SuiteTalk sandbox."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import RetrySettings
from connectors.base import Connector, ReadSpec, WriteOutcome, WriteSpec
from connectors.erp.connector import ErpConnector
from connectors.errors import AuthError, ConfigError, RateLimited, TransientError
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

MARKER_SECRET = "MARKER-SECRET-7f3a9c"
CUSTOMERS = WriteSpec("Customer", "externalId")
ITEMS = WriteSpec("ServiceSaleItem", "externalId")
SALES_ORDERS = WriteSpec("SalesOrder", "externalId")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ErpSandbox]:
    with ErpSandbox(token_secret=MARKER_SECRET) as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: ErpSandbox) -> ErpSandbox:
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connector(sandbox: ErpSandbox, sleeps: list[float]) -> Iterator[ErpConnector]:
    erp = ErpConnector(
        erp_settings(sandbox), RetrySettings(attempts=3), wsdl_cache=None, sleep=sleeps.append
    )
    yield erp
    erp.close()


def _customer(external_id: str, name: str = "Acme Corp") -> dict[str, Any]:
    return {
        "externalId": external_id,
        "companyName": name,
        "accountNumber": "ACC-1",
        "isInactive": False,
        "currency": {"internalId": "1"},
    }


def _item(external_id: str) -> dict[str, Any]:
    return {"externalId": external_id, "itemId": f"SKU-{external_id}", "displayName": "Licence"}


def _order(external_id: str, customer: str, items: list[str]) -> dict[str, Any]:
    lines = [
        {"item": {"externalId": item}, "quantity": "2", "rate": "600.00", "amount": "1200.00"}
        for item in items
    ]
    return {
        "externalId": external_id,
        "entity": {"externalId": customer},
        "tranDate": "2026-01-05",
        "orderStatus": "_pendingApproval",
        "itemList": {"item": lines},
    }


def test_connector_satisfies_the_connector_protocol(connector: ErpConnector) -> None:
    assert isinstance(connector, Connector)
    assert connector.system == "erp"


def test_customers_items_and_a_sales_order_with_lines_land_in_the_erp(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    customers = connector.write(CUSTOMERS, [_customer("rb-acc-1"), _customer("rb-acc-2")])
    items = connector.write(ITEMS, [_item("rb-prod-1"), _item("rb-prod-2")])
    orders = connector.write(
        SALES_ORDERS, [_order("rb-ord-1", "rb-acc-1", ["rb-prod-1", "rb-prod-2"])]
    )

    assert all(result.outcome is WriteOutcome.UPSERTED for result in customers + items + orders)
    stored = sandbox.records[("SalesOrder", "rb-ord-1")]
    assert orders[0].target_id == stored["internalId"]
    assert stored["tranDate"] == "2026-01-05T00:00:00"
    assert [line["amount"] for line in stored["itemList"]["item"]] == ["1200.00", "1200.00"]
    assert sandbox.records[("Customer", "rb-acc-2")]["currency"] == {"internalId": "1"}
    assert sandbox.upsert_count == {"Customer": 2, "ServiceSaleItem": 2, "SalesOrder": 1}


def test_upserting_the_same_external_ids_again_updates_without_creating_records(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    first = connector.write(CUSTOMERS, [_customer("rb-acc-1"), _customer("rb-acc-2")])

    second = connector.write(
        CUSTOMERS, [_customer("rb-acc-1", "Acme Renamed"), _customer("rb-acc-2")]
    )

    assert [r.target_id for r in second] == [r.target_id for r in first]
    assert len(sandbox.records) == 2
    assert sandbox.records[("Customer", "rb-acc-1")]["companyName"] == "Acme Renamed"


def test_sales_order_for_an_unknown_customer_is_rejected_while_the_rest_of_the_batch_lands(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    connector.write(CUSTOMERS, [_customer("rb-acc-1")])
    connector.write(ITEMS, [_item("rb-prod-1")])

    results = connector.write(
        SALES_ORDERS,
        [
            _order("rb-ord-1", "rb-acc-1", ["rb-prod-1"]),
            _order("rb-ord-2", "rb-acc-missing", ["rb-prod-1"]),
            _order("rb-ord-3", "rb-acc-1", ["rb-prod-missing"]),
            _order("rb-ord-4", "rb-acc-1", ["rb-prod-1"]),
        ],
    )

    assert [(r.external_id, r.outcome, r.error_code) for r in results] == [
        ("rb-ord-1", WriteOutcome.UPSERTED, ""),
        ("rb-ord-2", WriteOutcome.REJECTED, "INVALID_KEY_OR_REF"),
        ("rb-ord-3", WriteOutcome.REJECTED, "INVALID_KEY_OR_REF"),
        ("rb-ord-4", WriteOutcome.UPSERTED, ""),
    ]
    assert "rb-acc-missing" in results[1].error_message
    assert ("SalesOrder", "rb-ord-2") not in sandbox.records
    assert ("SalesOrder", "rb-ord-4") in sandbox.records


def test_records_missing_required_fields_are_rejected_with_user_error(
    connector: ErpConnector,
) -> None:
    results = connector.write(ITEMS, [{"externalId": "rb-prod-1", "displayName": "No SKU"}])

    assert results[0].outcome is WriteOutcome.REJECTED
    assert results[0].error_code == "USER_ERROR"


def test_a_payload_that_does_not_fit_the_xsd_is_rejected_locally_and_the_batch_goes_on(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    bad = {**_customer("rb-acc-bad"), "isInactive": "maybe"}
    no_id = {"companyName": "Nameless"}

    results = connector.write(CUSTOMERS, [bad, _customer("rb-acc-1"), no_id])

    assert [(r.outcome, r.error_code, r.error_fields) for r in results] == [
        (WriteOutcome.REJECTED, "INVALID_PAYLOAD", ("isInactive",)),
        (WriteOutcome.UPSERTED, "", ()),
        (WriteOutcome.REJECTED, "INVALID_PAYLOAD", ("externalId",)),
    ]
    assert sandbox.calls == 1


def test_more_than_a_batch_of_payloads_is_split_into_several_upsert_list_calls(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    payloads = [_customer(f"rb-acc-{n}") for n in range(250)]

    results = connector.write(CUSTOMERS, payloads)

    assert sandbox.calls == 3
    assert [r.external_id for r in results] == [p["externalId"] for p in payloads]
    assert all(r.ok for r in results)
    assert sandbox.upsert_count["Customer"] == 250


def test_batch_size_setting_controls_records_per_call(sandbox: ErpSandbox) -> None:
    settings = erp_settings(sandbox, batch_size=10)
    with_small_batches = ErpConnector(settings, RetrySettings(), wsdl_cache=None)

    with_small_batches.write(CUSTOMERS, [_customer(f"rb-acc-{n}") for n in range(25)])
    with_small_batches.close()

    assert sandbox.calls == 3


def test_wrong_token_secret_is_an_auth_error_that_never_shows_the_secret(
    sandbox: ErpSandbox, sleeps: list[float]
) -> None:
    wrong = MARKER_SECRET + "-wrong"
    settings = erp_settings(sandbox, token_secret=wrong, consumer_secret=wrong)
    erp = ErpConnector(settings, RetrySettings(), wsdl_cache=None, sleep=sleeps.append)

    with pytest.raises(AuthError) as caught:
        erp.write(CUSTOMERS, [_customer("rb-acc-1")])
    erp.close()

    assert MARKER_SECRET not in str(caught.value)
    assert MARKER_SECRET not in repr(caught.value)
    assert "invalidCredentialsFault" in str(caught.value)
    assert sandbox.calls == 1
    assert sleeps == []
    assert sandbox.records == {}


def test_check_authenticates_with_get_server_time(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    connector.check()

    assert sandbox.calls == 1


def test_check_with_a_wrong_account_raises_auth_error(sandbox: ErpSandbox) -> None:
    erp = ErpConnector(erp_settings(sandbox, account="TSTDRV0000000"), RetrySettings())

    with pytest.raises(AuthError, match="check the ERP account"):
        erp.check()
    erp.close()


def test_an_injected_503_is_retried_and_then_succeeds(
    sandbox: ErpSandbox, connector: ErpConnector, sleeps: list[float]
) -> None:
    connector.check()  # loads the WSDL, so the 503 hits the upsertList call
    sandbox.inject_fault("http_503")

    results = connector.write(CUSTOMERS, [_customer("rb-acc-1")])

    assert results[0].ok
    assert sandbox.calls == 1 + 2
    assert len(sleeps) == 1


def test_a_503_while_fetching_the_wsdl_is_retried(
    sandbox: ErpSandbox, connector: ErpConnector, sleeps: list[float]
) -> None:
    sandbox.inject_fault("http_503")

    connector.check()

    assert len(sleeps) == 1
    assert sandbox.calls == 1


def test_a_503_that_outlasts_the_retries_raises_transient_error(
    sandbox: ErpSandbox, connector: ErpConnector, sleeps: list[float]
) -> None:
    connector.check()
    sandbox.inject_fault("http_503", times=5)

    with pytest.raises(TransientError, match="HTTP 503"):
        connector.write(CUSTOMERS, [_customer("rb-acc-1")])

    assert sandbox.calls == 1 + 3
    assert len(sleeps) == 2


def test_a_concurrency_fault_is_retried_like_other_rate_limits(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    sandbox.inject_fault("concurrency")

    results = connector.write(CUSTOMERS, [_customer("rb-acc-1")])

    assert results[0].ok
    assert sandbox.calls == 2


def test_a_persistent_concurrency_fault_raises_rate_limited(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    sandbox.inject_fault("concurrency", times=3)

    with pytest.raises(RateLimited, match="exceededConcurrentRequestLimitFault"):
        connector.write(CUSTOMERS, [_customer("rb-acc-1")])

    assert sandbox.calls == 3
    assert sandbox.records == {}


def test_an_unreachable_endpoint_raises_transient_error(sandbox: ErpSandbox) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        endpoint = f"http://127.0.0.1:{unused.getsockname()[1]}/services/NetSuitePort_2023_2"
        settings = erp_settings(sandbox, endpoint_url=endpoint)
        erp = ErpConnector(settings, RetrySettings(attempts=2), sleep=lambda _: None)

        with pytest.raises(TransientError, match="unreachable"):
            erp.write(CUSTOMERS, [_customer("rb-acc-1")])
        erp.close()


def test_a_missing_wsdl_is_a_config_error(sandbox: ErpSandbox) -> None:
    erp = ErpConnector(erp_settings(sandbox, wsdl_url=f"{sandbox.url}/nope"), RetrySettings())

    with pytest.raises(ConfigError):
        erp.check()
    erp.close()


def test_unknown_record_types_and_external_id_fields_are_config_errors(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    with pytest.raises(ConfigError, match="unsupported ERP record type 'VendorBill'"):
        connector.write(WriteSpec("VendorBill", "externalId"), [{"externalId": "x"}])
    with pytest.raises(ConfigError, match="upserts by externalId"):
        connector.write(WriteSpec("Customer", "Revbridge_Id__c"), [_customer("x")])
    with pytest.raises(ConfigError, match="unsupported ERP record type 'VendorBill'"):
        connector.read(ReadSpec("VendorBill", ("tranId",)), None)
    (unset,) = connector.write(
        WriteSpec("customrecord_rb_other", "externalId"), [{"externalId": "x"}]
    )
    assert (unset.outcome, unset.error_code) == (WriteOutcome.REJECTED, "CUSTOM_RECORD_TYPE_UNSET")
    assert "set erp.custom_record_types.customrecord_rb_other" in unset.error_message
    assert sandbox.calls == 0


def test_a_read_filter_is_refused_rather_than_ignored(connector: ErpConnector) -> None:
    with pytest.raises(ConfigError, match="without filters"):
        connector.read(ReadSpec("Invoice", ("tranId",), filter="status = 'open'"), None)


def test_the_wsdl_is_loaded_once_per_connector(
    sandbox: ErpSandbox, connector: ErpConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector.check()
    loads: list[str] = []
    original = connector._soap._new_client

    def counting_new_client() -> Any:
        loads.append(sandbox.wsdl_url)
        return original()

    monkeypatch.setattr(connector._soap, "_new_client", counting_new_client)

    connector.write(CUSTOMERS, [_customer("rb-acc-1")])
    connector.check()

    assert loads == []
