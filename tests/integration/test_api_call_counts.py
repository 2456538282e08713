"""API calls are counted for every system, and the counts equal what each sandbox received.

Stripe and NetSuite have limits too (Stripe's rate limit, NetSuite's concurrency and request
governance), so the run summary counts every request revbridge sends to billing and the ERP:
retries, token fetches, list and search pages, and calls whose reply was lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import BillingSettings, RetrySettings
from connectors.base import Connector, ReadSpec, WriteSpec
from connectors.billing.connector import BillingConnector
from connectors.erp.connector import ErpConnector
from connectors.errors import TransientError
from connectors.salesforce.connector import SalesforceConnector
from mappings.mapping_set import MappingSet
from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import Sandboxes, SandboxSize, erp_settings
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.store import Store
from tests.integration.billing_harness import MakeConnector, connector_factory
from tests.integration.cpq_harness import TickingClock

SIZE = SandboxSize(accounts=6, orders=20, products=4, page_size=200)
NO_WAIT = RetrySettings(attempts=4, max_wait_seconds=0.01)
CUSTOMERS = WriteSpec("customers", "external_id")
ERP_CUSTOMERS = WriteSpec("Customer", "externalId")


def _connectors(sandboxes: Sandboxes, database_url: str) -> dict[str, Connector]:
    settings = sandboxes.settings(database_url, retry=NO_WAIT)
    return {
        "salesforce": SalesforceConnector(settings.salesforce, settings.retry),
        "billing": BillingConnector(settings.billing, settings.retry, wait=lambda _: None),
        "erp": ErpConnector(settings.erp, settings.retry, wsdl_cache=None, sleep=lambda _: None),
    }


def test_run_summary_counts_billing_and_erp_calls_as_their_sandboxes_received_them(
    database_url: str, mapping_set: MappingSet
) -> None:
    with Sandboxes(SIZE) as sandboxes:
        store = Store(database_url)
        connectors = _connectors(sandboxes, database_url)
        try:
            # Two 503s from billing and a NetSuite concurrency fault: each retry is a call.
            sandboxes.billing.inject_fault(503, times=2)
            sandboxes.erp.inject_fault("concurrency", times=1)
            first = SyncEngine(store, mapping_set, connectors, QUOTE_TO_CASH).run()
            billing_first, erp_first = sandboxes.billing.calls, sandboxes.erp.calls
            second = SyncEngine(store, mapping_set, connectors, QUOTE_TO_CASH).run()
        finally:
            for connector in connectors.values():
                connector.close()
            store.close()
        assert sorted(first.api_calls) == ["billing", "erp", "salesforce"]
        assert first.api_calls["billing"] == billing_first
        assert first.api_calls["erp"] == erp_first
        assert first.api_calls["salesforce"] > 0
        # The second run wrote nothing new: its counts are only its own calls.
        assert second.api_calls["billing"] == sandboxes.billing.calls - billing_first
        assert second.api_calls["erp"] == sandboxes.erp.calls - erp_first
        assert second.api_calls["billing"] < first.api_calls["billing"]


@pytest.fixture(scope="module")
def billing() -> Iterator[BillingSandbox]:
    with BillingSandbox() as running:
        yield running


@pytest.fixture
def make_connector(billing: BillingSandbox) -> Iterator[MakeConnector]:
    billing.reset()
    with connector_factory(billing, []) as make:
        yield make


def _oauth_connector(billing: BillingSandbox, client_secret: str) -> BillingConnector:
    billing.reset()
    settings = BillingSettings(
        base_url=billing.url,
        auth="oauth_client_credentials",
        token_url=billing.token_url,
        client_id=billing.client_id,
        client_secret=SecretStr(client_secret),
    )
    return BillingConnector(settings, NO_WAIT, wait=lambda _: None)


def test_billing_counts_oauth_token_requests_and_the_refetch_after_a_refused_token(
    billing: BillingSandbox,
) -> None:
    connector = _oauth_connector(billing, billing.client_secret)
    try:
        connector.write(CUSTOMERS, [{"external_id": "a1", "name": "Acme", "currency": "USD"}])
        billing.expire_tokens()  # the API now refuses the token: 401, a new token, the retry
        connector.write(CUSTOMERS, [{"external_id": "a2", "name": "Beta", "currency": "USD"}])
        assert billing.tokens_issued == 2
        assert connector.api_calls == billing.calls
    finally:
        connector.close()


def test_billing_counts_a_request_whose_reply_was_lost(
    make_connector: MakeConnector, billing: BillingSandbox
) -> None:
    connector = make_connector()
    billing.inject_disconnect(times=1)
    results = connector.write(CUSTOMERS, [{"external_id": "a1", "name": "A", "currency": "USD"}])
    assert results[0].target_id is not None
    assert connector.api_calls == billing.calls == 2


def test_billing_counts_a_refused_token_request(billing: BillingSandbox) -> None:
    connector = _oauth_connector(billing, "not-the-secret")
    try:
        with pytest.raises(Exception, match="refused the client credentials"):
            connector.check()
        assert connector.api_calls == billing.calls == 1
    finally:
        connector.close()


def test_stripe_profile_counts_list_pages_of_its_lookup(
    make_connector: MakeConnector, billing: BillingSandbox
) -> None:
    billing.set_stripe_search(enabled=False)
    connector = make_connector(profile="stripe", auth="basic", lookup="list")
    customers: list[dict[str, Any]] = [
        {"external_id": f"acc-{n:03d}", "name": f"Acme {n}"} for n in range(130)
    ]
    connector.write(CUSTOMERS, customers)
    fresh = make_connector(profile="stripe", auth="basic", lookup="list")
    before = billing.calls
    fresh.write(CUSTOMERS, customers[:3])  # finds them by listing: two pages of 100
    assert fresh.api_calls == billing.calls - before
    assert connector.api_calls + fresh.api_calls == billing.calls


@pytest.fixture(scope="module")
def erp() -> Iterator[ErpSandbox]:
    # Distinct stamps in the past, so a read finds every record it wrote.
    with ErpSandbox(clock=TickingClock()) as running:
        yield running


@pytest.fixture
def erp_connector(erp: ErpSandbox) -> Iterator[ErpConnector]:
    erp.reset()
    settings = erp_settings(erp, search_page_size=5)
    connector = ErpConnector(settings, NO_WAIT, wsdl_cache=None, sleep=lambda _: None)
    yield connector
    connector.close()


def test_erp_counts_search_pages_retries_and_lost_replies(
    erp_connector: ErpConnector, erp: ErpSandbox
) -> None:
    erp_connector.check()
    payloads = [{"externalId": f"c{n}", "companyName": f"Customer {n}"} for n in range(12)]
    erp.inject_fault("drop", times=1)  # processed, reply lost, sent again
    erp_connector.write(ERP_CUSTOMERS, payloads)
    erp.inject_fault("request_limit", times=1)
    pages = list(erp_connector.read(ReadSpec("Customer", ("companyName",)), None))
    assert sum(len(page.records) for page in pages) == 12
    assert len(pages) == 3  # search, then searchMoreWithId twice
    assert erp_connector.api_calls == erp.calls
    # The dropped upsertList and the refused search were sent again: both are counted.
    assert erp.calls == sum(erp.operations.values()) + 2


def test_erp_counts_calls_that_all_failed(erp_connector: ErpConnector, erp: ErpSandbox) -> None:
    erp.inject_fault("request_limit", times=10)
    with pytest.raises(TransientError):
        erp_connector.check()
    assert erp_connector.api_calls == erp.calls == NO_WAIT.attempts
