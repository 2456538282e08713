"""The billing connector writing to the billing sandbox over loopback with real requests."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import SecretStr

from config.settings import BillingSettings, RetrySettings
from connectors.base import Connector, WriteOutcome, WriteSpec
from connectors.billing.connector import BillingConnector
from connectors.errors import AuthError, ConfigError, RateLimited, TransientError
from sandboxes.billing.sandbox import BillingSandbox
from tests.integration.billing_harness import MakeConnector, connector_factory

MARKER_SECRET = "sk_test_MARKER_d0_not_leak_4242"
CUSTOMERS = WriteSpec("customers", "external_id")
ORDERS = WriteSpec("orders", "external_id")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    """One billing sandbox on a loopback port for the module (stopping one takes ~0.5 s)."""
    with BillingSandbox(api_key=MARKER_SECRET) as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    """The module's billing sandbox, emptied for this test."""
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def waits() -> list[float]:
    """Every backoff the connector asked for; nothing really sleeps."""
    return []


@pytest.fixture
def make_connector(sandbox: BillingSandbox, waits: list[float]) -> Iterator[MakeConnector]:
    """Build connectors to the sandbox (closed after the test), overriding settings as needed."""
    with connector_factory(sandbox, waits) as make:
        yield make


def _customer(external_id: str, **changes: Any) -> dict[str, Any]:
    return {"external_id": external_id, "name": "Acme Corp", "currency": "USD", **changes}


def _order(external_id: str, customer: str | None, **changes: Any) -> dict[str, Any]:
    body = {
        "external_id": external_id,
        "customer": customer,
        "currency": "USD",
        "effective_date": "2026-01-05",
        "total": Decimal("1200.00"),
    }
    return {**body, **changes}


def test_connector_satisfies_the_connector_protocol(make_connector: MakeConnector) -> None:
    connector = make_connector()
    assert isinstance(connector, Connector)
    assert connector.system == "billing"


def test_customer_is_created_then_updated_then_left_unchanged(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    [created] = connector.write(CUSTOMERS, [_customer("acc-1")])
    first = sandbox.resources("customers")[0]
    [updated] = connector.write(CUSTOMERS, [_customer("acc-1", phone="+1 555 0100")])
    second = sandbox.resources("customers")[0]
    [unchanged] = connector.write(CUSTOMERS, [_customer("acc-1", phone="+1 555 0100")])
    third = sandbox.resources("customers")[0]

    assert [created.outcome, updated.outcome, unchanged.outcome] == [
        WriteOutcome.CREATED,
        WriteOutcome.UPDATED,
        WriteOutcome.UPDATED,
    ]
    assert created.target_id == updated.target_id == unchanged.target_id == first["id"]
    assert first["updated"] < second["updated"] == third["updated"]
    assert third["phone"] == "+1 555 0100"
    assert len(sandbox.resources("customers")) == 1


def test_rejected_records_carry_code_and_param_while_the_rest_of_the_batch_lands(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    [customer] = connector.write(CUSTOMERS, [_customer("acc-1")])
    orders = [
        _order("ord-1", customer.target_id),
        _order("ord-2", customer.target_id, total=1200.0),
        _order("ord-3", "cus_unknown"),
        _order("ord-4", customer.target_id, number="00000104"),
    ]
    customers = [_customer("acc-2", name=None), _customer("acc-3")]

    order_results = connector.write(ORDERS, orders)
    customer_results = connector.write(CUSTOMERS, customers)

    outcomes = [(r.external_id, r.outcome, r.error_code, r.error_fields) for r in order_results]
    assert outcomes == [
        ("ord-1", WriteOutcome.CREATED, "", ()),
        ("ord-2", WriteOutcome.REJECTED, "parameter_invalid", ("total",)),
        ("ord-3", WriteOutcome.REJECTED, "resource_missing", ("customer",)),
        ("ord-4", WriteOutcome.CREATED, "", ()),
    ]
    assert "decimal string" in order_results[1].error_message
    missing_name, landed = customer_results
    assert (missing_name.error_code, missing_name.error_fields) == ("parameter_missing", ("name",))
    assert landed.ok
    assert [o["external_id"] for o in sandbox.resources("orders")] == ["ord-1", "ord-4"]
    assert sandbox.resources("orders")[0]["total"] == "1200.00"


def test_payload_without_external_id_is_rejected_without_a_call(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    [result] = make_connector().write(CUSTOMERS, [{"name": "Acme", "currency": "USD"}])
    assert (result.outcome, result.error_fields) == (WriteOutcome.REJECTED, ("external_id",))
    assert sandbox.calls == 0


def test_same_payload_retried_after_a_dropped_connection_creates_exactly_one_resource(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    sandbox.inject_disconnect(times=1)
    [result] = make_connector().write(CUSTOMERS, [_customer("acc-1")])

    assert result.outcome is WriteOutcome.CREATED
    assert sandbox.calls == 2
    assert sandbox.writes == {("customers", "created"): 1}
    assert [c["id"] for c in sandbox.resources("customers")] == [result.target_id]


def test_content_written_again_after_a_change_lands_instead_of_replaying(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    connector.write(CUSTOMERS, [_customer("acc-1", name="A")])
    connector.write(CUSTOMERS, [_customer("acc-1", name="B")])
    connector.write(CUSTOMERS, [_customer("acc-1", name="A")])
    assert sandbox.resources("customers")[0]["name"] == "A"


def test_rate_limit_retry_after_is_honoured_and_the_write_retried(
    make_connector: MakeConnector, sandbox: BillingSandbox, waits: list[float]
) -> None:
    sandbox.inject_fault(429, headers={"Retry-After": "7"})
    connector = make_connector()
    [result] = connector.write(CUSTOMERS, [_customer("acc-1")])
    assert result.outcome is WriteOutcome.CREATED
    assert waits == [7.0]
    assert connector.last_wait_seconds == 7.0
    assert sandbox.calls == 2


def test_retry_after_beyond_max_wait_is_capped(
    make_connector: MakeConnector, sandbox: BillingSandbox, waits: list[float]
) -> None:
    sandbox.inject_fault(429, headers={"Retry-After": "3600"})
    make_connector(max_wait=12.0).write(CUSTOMERS, [_customer("acc-1")])
    assert waits == [12.0]


def test_rate_limits_beyond_attempts_raise_rate_limited(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    sandbox.inject_fault(429, headers={"Retry-After": "0"}, times=3)
    with pytest.raises(RateLimited) as raised:
        make_connector(attempts=3).write(CUSTOMERS, [_customer("acc-1")])
    assert raised.value.retry_after == 0.0
    assert sandbox.resources("customers") == []


def test_service_unavailable_beyond_attempts_raises_transient_error(
    make_connector: MakeConnector, sandbox: BillingSandbox, waits: list[float]
) -> None:
    sandbox.inject_fault(503, times=3)
    with pytest.raises(TransientError, match="503") as raised:
        make_connector(attempts=3).write(CUSTOMERS, [_customer("acc-1")])
    assert not isinstance(raised.value, RateLimited)
    assert sandbox.calls == 3
    assert len(waits) == 2
    assert sandbox.resources("customers") == []


def test_service_unavailable_within_attempts_recovers(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    sandbox.inject_fault(503, times=2)
    [result] = make_connector(attempts=3).write(CUSTOMERS, [_customer("acc-1")])
    assert result.outcome is WriteOutcome.CREATED


def test_wrong_key_raises_auth_error_without_the_key_anywhere(
    make_connector: MakeConnector, sandbox: BillingSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_key = MARKER_SECRET + "_wrong"
    connector = make_connector(api_key=wrong_key)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as on_write:
        connector.write(CUSTOMERS, [_customer("acc-1")])
    with pytest.raises(AuthError) as on_check:
        connector.check()
    assert sandbox.calls == 2, "auth errors are not retried"
    seen = [str(on_write.value), repr(on_write.value), str(on_check.value), repr(connector)]
    seen.append(caplog.text)
    assert all(MARKER_SECRET not in text for text in seen)
    assert "api_key" in str(on_write.value)


def test_key_echoed_by_the_server_is_masked_in_the_error(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    echo = {"error": {"type": "authentication_error", "message": f"Bad key: {MARKER_SECRET}"}}
    sandbox.inject_fault(401, body=echo)
    with pytest.raises(AuthError, match=r"Bad key: \*\*\*") as raised:
        make_connector().check()
    assert MARKER_SECRET not in str(raised.value)


def test_check_passes_with_the_right_key(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    make_connector().check()
    assert sandbox.calls == 1


def test_unknown_collection_raises_config_error(make_connector: MakeConnector) -> None:
    with pytest.raises(ConfigError, match="refunds"):
        make_connector().write(WriteSpec("refunds", "external_id"), [_customer("re-1")])


def test_unreachable_api_raises_transient_error_after_retries(
    make_connector: MakeConnector, waits: list[float]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    connector = make_connector(attempts=2, base_url=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(TransientError, match="ConnectionError"):
        connector.check()
    assert len(waits) == 1


def test_tls_api_is_trusted_through_the_ca_bundle(tmp_path: Path, waits: list[float]) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    with BillingSandbox(api_key=MARKER_SECRET, ssl_context=context) as sandbox:
        settings = {"base_url": sandbox.url, "api_key": SecretStr(MARKER_SECRET)}
        trusted = BillingConnector(
            BillingSettings(**settings, ca_bundle=ca_bundle), RetrySettings()
        )
        untrusted = BillingConnector(
            BillingSettings(**settings), RetrySettings(), wait=waits.append
        )
        trusted.check()
        with pytest.raises(ConfigError, match="ca_bundle"):
            untrusted.check()
        trusted.close()
        untrusted.close()
    assert sandbox.url.startswith("https://")
