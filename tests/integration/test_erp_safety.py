"""Hostile or broken ERP answers fail cleanly: no entity expansion, no unbounded reads, no hang."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from config.settings import RetrySettings
from connectors.base import WriteSpec
from connectors.erp.connector import ErpConnector
from connectors.errors import AuthError, ConfigError, RateLimited, TransientError
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

CUSTOMER = WriteSpec("Customer", "externalId")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ErpSandbox]:
    with ErpSandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: ErpSandbox) -> ErpSandbox:
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _connector(sandbox: ErpSandbox, sleeps: list[float], **overrides: object) -> ErpConnector:
    settings = erp_settings(sandbox, **overrides)
    return ErpConnector(settings, RetrySettings(attempts=2), wsdl_cache=None, sleep=sleeps.append)


@pytest.mark.parametrize("attack", ["xxe", "billion_laughs"])
def test_a_response_with_a_dtd_is_refused_before_parsing(
    sandbox: ErpSandbox, sleeps: list[float], attack: str
) -> None:
    erp = _connector(sandbox, sleeps)
    erp.check()  # the WSDL is loaded; the attack answers the next SOAP call
    sandbox.inject_fault(attack)
    started = time.monotonic()

    with pytest.raises(ConfigError, match="declares a DTD") as caught:
        erp.check()
    erp.close()

    assert time.monotonic() - started < 2
    assert "root:" not in str(caught.value)  # /etc/passwd never read into the message
    assert sleeps == []  # a hostile answer is not retried


@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        ("xxe", ConfigError, "declares a DTD"),
        ("billion_laughs", ConfigError, "declares a DTD"),
        ("session", AuthError, "invalidSessionFault"),
        ("request_limit", RateLimited, "exceededRequestLimitFault"),
    ],
)
def test_an_upsert_list_reply_is_guarded_and_classified_like_any_other(
    sandbox: ErpSandbox, sleeps: list[float], fault: str, error: type[Exception], match: str
) -> None:
    # upsertList replies are read without zeep's typed parsing (connectors/erp/replies.py).
    erp = _connector(sandbox, sleeps)
    erp.check()
    sandbox.inject_fault(fault, times=2)

    with pytest.raises(error, match=match) as caught:
        erp.write(CUSTOMER, [{"externalId": "rb-acc-1", "companyName": "Acme"}])
    erp.close()

    assert "root:" not in str(caught.value)
    assert sandbox.records == {}


def test_a_response_bigger_than_the_cap_is_abandoned(
    sandbox: ErpSandbox, sleeps: list[float]
) -> None:
    # A cap above the compact WSDL's size (~66 KB), far below the 5 MB answer.
    erp = _connector(sandbox, sleeps, max_response_bytes=256 * 1024)
    erp.check()
    sandbox.configure_faults(oversize_bytes=5_000_000)
    sandbox.inject_fault("oversize")

    with pytest.raises(ConfigError, match="max_response_bytes"):
        erp.check()
    erp.close()


def test_a_slow_answer_hits_the_timeout_and_is_a_transient_error(
    sandbox: ErpSandbox, sleeps: list[float]
) -> None:
    erp = _connector(sandbox, sleeps, timeout_seconds=0.3)
    erp.check()
    sandbox.configure_faults(latency_seconds=3)
    sandbox.inject_fault("latency", times=2)
    started = time.monotonic()

    with pytest.raises(TransientError, match="too slow"):
        erp.check()
    erp.close()

    assert time.monotonic() - started < 2
    assert len(sleeps) == 1


def test_a_dropped_connection_is_retried(sandbox: ErpSandbox, sleeps: list[float]) -> None:
    erp = _connector(sandbox, sleeps)
    erp.check()
    sandbox.inject_fault("drop")

    erp.check()
    erp.close()

    assert len(sleeps) == 1
    assert sandbox.calls == 3


def test_faults_at_a_seeded_rate_replay_the_same_way(sandbox: ErpSandbox) -> None:
    def outcomes() -> list[str]:
        sandbox.reset()
        sandbox.fault_rates({"http_503": 0.5}, seed=7)
        erp = _connector(sandbox, [], wsdl_url=sandbox.wsdl_url)
        seen = []
        for _ in range(8):
            try:
                erp.check()
                seen.append("ok")
            except TransientError:
                seen.append("503")
        erp.close()
        return seen

    first, second = outcomes(), outcomes()

    assert first == second
    assert {"ok", "503"} <= set(first)
