"""ERP writes beyond the basics: cleared fields, record faults, the call limit, auth, operations."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import RetrySettings
from connectors.base import WriteOutcome, WriteSpec
from connectors.erp.connector import ErpConnector
from connectors.errors import AuthError, ConfigError
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

CUSTOMERS = WriteSpec("Customer", "externalId")
MARKER_PASSWORD = "MARKER-PASSWORD-93c1d"


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ErpSandbox]:
    with ErpSandbox(password=MARKER_PASSWORD) as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: ErpSandbox) -> ErpSandbox:
    running_sandbox.reset()
    return running_sandbox


def _connector(sandbox: ErpSandbox, **overrides: Any) -> ErpConnector:
    settings = erp_settings(sandbox, **overrides)
    return ErpConnector(settings, RetrySettings(attempts=2), wsdl_cache=None, sleep=lambda _: None)


def _customers(count: int, prefix: str = "c") -> list[dict[str, Any]]:
    return [{"externalId": f"{prefix}{n}", "companyName": f"Customer {n}"} for n in range(count)]


def test_a_field_set_to_none_is_cleared_in_netsuite(sandbox: ErpSandbox) -> None:
    erp = _connector(sandbox)
    full = {
        "externalId": "c1",
        "companyName": "Acme",
        "phone": "555",
        "currency": {"internalId": "1"},
    }
    erp.write(CUSTOMERS, [full])

    erp.write(CUSTOMERS, [{**full, "phone": None, "currency": {"internalId": None}}])
    erp.close()

    stored = sandbox.records[("Customer", "c1")]
    assert "phone" not in stored
    assert "currency" not in stored
    assert stored["companyName"] == "Acme"


def test_a_schema_fault_rejects_only_the_record_that_caused_it(sandbox: ErpSandbox) -> None:
    erp = _connector(sandbox)
    sandbox.poison("c5")

    results = erp.write(CUSTOMERS, _customers(8))
    erp.close()

    rejected = [r for r in results if r.outcome is WriteOutcome.REJECTED]
    assert [(r.external_id, r.error_code) for r in rejected] == [("c5", "INVALID_XML")]
    assert "SAXException" in rejected[0].error_message
    assert [r.external_id for r in results] == [f"c{n}" for n in range(8)]
    assert sandbox.upsert_count["Customer"] == 7
    # 1 whole batch + halves down to the single record: 8 -> 4 -> 2 -> 1, plus their siblings.
    assert sandbox.calls == 7


def test_batches_go_out_in_parallel_but_never_past_the_concurrency_limit(
    sandbox: ErpSandbox,
) -> None:
    erp = _connector(sandbox, batch_size=5, concurrency=3)
    sandbox.configure_faults(latency_seconds=0.05)
    sandbox.fault_rates({"latency": 1.0})

    results = erp.write(CUSTOMERS, _customers(40))
    erp.close()

    assert [r.external_id for r in results] == [f"c{n}" for n in range(40)]
    assert all(r.ok for r in results)
    assert 2 <= sandbox.max_concurrent_calls <= 3


def test_parallel_callers_of_one_account_share_its_limit(sandbox: ErpSandbox) -> None:
    connectors = [_connector(sandbox, concurrency=2) for _ in range(3)]
    for erp in connectors:
        erp.check()  # load WSDLs before the clock matters
    sandbox.configure_faults(latency_seconds=0.05)
    sandbox.fault_rates({"latency": 1.0})

    def write(index: int) -> None:
        connectors[index].write(CUSTOMERS, _customers(3, prefix=f"t{index}-"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    for erp in connectors:
        erp.close()

    assert len(sandbox.records) == 9
    assert sandbox.max_concurrent_calls == 2


def test_a_user_passport_authenticates_instead_of_a_token(sandbox: ErpSandbox) -> None:
    erp = _connector(sandbox, auth="password")

    results = erp.write(CUSTOMERS, _customers(2))
    erp.close()

    assert all(r.ok for r in results)


def test_a_wrong_password_is_an_auth_error_that_never_shows_it(sandbox: ErpSandbox) -> None:
    wrong = MARKER_PASSWORD + "-wrong"
    erp = _connector(sandbox, auth="password", password=wrong)

    with pytest.raises(AuthError) as caught:
        erp.check()
    erp.close()

    assert MARKER_PASSWORD not in str(caught.value)
    assert MARKER_PASSWORD not in repr(caught.value)
    assert MARKER_PASSWORD not in repr(erp_settings(sandbox, auth="password"))


def test_an_operation_renamed_in_config_that_the_wsdl_lacks_is_a_config_error(
    sandbox: ErpSandbox,
) -> None:
    erp = _connector(sandbox, operations={"upsert": "asyncAddList"})

    with pytest.raises(ConfigError, match=r"'asyncAddList' \(erp.operations.upsert\)"):
        erp.write(CUSTOMERS, _customers(1))
    erp.close()

    assert sandbox.calls == 0


def test_credentials_never_reach_the_logs_even_at_debug_level(
    sandbox: ErpSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    erp = _connector(sandbox, auth="password")
    sandbox.inject_fault("http_503")

    erp.write(CUSTOMERS, _customers(1))
    erp.close()

    assert caplog.records  # the retry was logged
    assert MARKER_PASSWORD not in caplog.text
