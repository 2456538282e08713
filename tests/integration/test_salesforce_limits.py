"""The API budget floor, API call counting, and injected faults a real org produces."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config.settings import RetrySettings
from connectors.base import ReadSpec
from connectors.errors import RateLimited, TransientError
from connectors.salesforce.connector import SalesforceConnector
from sandboxes.salesforce.faults import Fault
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings

ACCOUNTS = ReadSpec("Account", ("Name",), page_size=200)


def _no_sleep(seconds: float) -> None:
    """Retries in these tests never really wait."""


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=650, orders=2, products=2, daily_api_limit=1000) as started:
        yield started


def _connector(sandbox: SalesforceSandbox, **overrides: object) -> SalesforceConnector:
    return SalesforceConnector(
        salesforce_settings(sandbox, **overrides), RetrySettings(attempts=3), sleep=_no_sleep
    )


def test_run_pauses_at_the_floor_and_says_why(sandbox: SalesforceSandbox) -> None:
    sandbox.set_api_usage(897)  # 103 calls left; the floor keeps 100
    connector = _connector(sandbox, api_floor_percent=10)
    pages = connector.read(ACCOUNTS, None)
    first = next(pages)
    assert len(first.records) == 200
    with pytest.raises(RateLimited) as raised:
        list(pages)
    message = str(raised.value)
    assert "floor of 10% (100 calls)" in message
    assert "used 900 of its 1,000" in message
    assert sandbox.api_calls == 900  # refused before the call that would cross the floor


def test_zero_floor_spends_the_allocation_until_salesforce_refuses(
    sandbox: SalesforceSandbox,
) -> None:
    sandbox.set_api_usage(998)
    connector = _connector(sandbox, api_floor_percent=0)
    with pytest.raises(RateLimited, match="REQUEST_LIMIT_EXCEEDED"):
        list(connector.read(ACCOUNTS, None))


def test_api_calls_are_counted_per_connector_and_per_page(sandbox: SalesforceSandbox) -> None:
    connector = _connector(sandbox)
    pages = list(connector.read(ACCOUNTS, None))
    assert connector.api_calls == len(pages) == 4
    assert [page.api_calls for page in pages] == [1, 1, 1, 1]
    assert connector.api_usage == (4, 1000)


def test_dropped_connection_is_retried_as_transient(sandbox: SalesforceSandbox) -> None:
    connector = _connector(sandbox)
    connector.check()
    sandbox.drop_connections(times=1, path_contains="/query")
    assert len([r for p in connector.read(ACCOUNTS, None) for r in p.records]) == 650


def test_connections_dropped_every_time_end_as_transient_error(
    sandbox: SalesforceSandbox,
) -> None:
    connector = _connector(sandbox)
    sandbox.drop_connections(times=10)
    with pytest.raises(TransientError):
        connector.check()


def test_random_faults_at_a_rate_are_absorbed_by_retries(sandbox: SalesforceSandbox) -> None:
    connector = SalesforceConnector(
        salesforce_settings(sandbox), RetrySettings(attempts=8), sleep=_no_sleep
    )
    lock = [{"message": "unable to obtain exclusive access", "errorCode": "UNABLE_TO_LOCK_ROW"}]
    sandbox.faults.at_rate(0.3, Fault(400, lock), seed=3)
    records = [r for p in connector.read(ACCOUNTS, None) for r in p.records]
    sandbox.faults.clear()
    assert len(records) == 650
    assert sandbox.api_calls > 4


def test_latency_is_served_then_the_call_answers(sandbox: SalesforceSandbox) -> None:
    connector = _connector(sandbox)
    sandbox.add_latency(0.05)
    connector.check()
    assert connector.api_calls == 1
