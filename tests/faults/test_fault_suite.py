"""Sync 22,000 records through seeded HTTP faults; re-run until done; nothing lost or doubled.

Every system misbehaves at once, each from a seeded generator so a failure replays exactly:
5% HTTP 5xx, 2% rate limiting (billing: 429 with ``Retry-After: 0``; the ERP: NetSuite's
concurrency-limit fault, its 429), 1% timeouts, 1% dropped connections (billing commits first,
so the client's retry must be a harmless replay), and per-record rejections (the org's invalid
records; order ids the ERP refuses). Retries never really wait: the connectors get recording
sleeps. A run whose retries run out fails, and is re-run, as an operator would. The
invariants come from counting the sandboxes' stored records.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from config.settings import RetrySettings, Settings
from connectors.base import Connector
from connectors.billing.connector import BillingConnector
from connectors.erp.connector import ErpConnector
from connectors.salesforce.connector import SalesforceConnector
from mappings.mapping_set import MappingSet
from sandboxes.erp.sandbox import SERVICE_PATH
from sandboxes.salesforce.faults import SERVER_UNAVAILABLE, Fault, error_fault
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.schema import RunStatus
from tests.faults.faults_harness import (
    Expectations,
    RetryWaits,
    SeededDelays,
    check_billing,
    check_erp,
    check_error_queue,
    expectations_from,
    install_delays,
)

pytestmark = pytest.mark.slow

# 5,000 orders carry about 14,900 lines: 20,150 records with the accounts and products (the
# org's CPQ records, read and captured too, have no targets in this flow).
SIZE = SandboxSize(accounts=200, products=50, orders=5000, page_size=1000)
SEED = 20260105
ERP_REJECTED_ORDERS = 6
MAX_RUNS = 8
RETRY = RetrySettings(attempts=4, max_wait_seconds=0.01)
# Client deadlines short enough that a timeout costs little, long enough for a normal answer.
# The sandboxes serve from this process's threads, so under the GIL a batch of 100 records
# can take a few hundred milliseconds to answer while the engine captures the next page.
TIMEOUTS = {"salesforce": 2.0, "billing": 1.0, "erp": 2.0}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    # Seeding 5,500 orders takes seconds: one org serves both databases' tests (reads only).
    with Sandboxes(SIZE) as running:
        yield running


@pytest.fixture(autouse=True)
def _quiet_retry_logs() -> Iterator[None]:
    # Thousands of expected retry and rejection warnings would only slow the run down.
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture
def faults(sandboxes: Sandboxes) -> Iterator[dict[str, SeededDelays]]:
    """Every fault armed on fresh billing and ERP stores; disarmed afterwards."""
    sandboxes.billing.reset()
    sandboxes.erp.reset()
    _arm_salesforce(sandboxes)
    billing = sandboxes.billing
    billing.inject_rate(0.05, 503, seed=SEED)
    billing.inject_rate(0.02, 429, {"Retry-After": "0"}, seed=SEED)
    billing.inject_rate(0.01, None, seed=SEED)  # committed, then the answer is lost
    erp = sandboxes.erp
    erp.fault_rates({"http_503": 0.05, "concurrency": 0.02, "drop": 0.01}, seed=SEED)
    delays = {
        # Billing writes are batches of 100 now (~200 calls): the first one times out for sure.
        "billing": SeededDelays("POST", "/v1/", 0.01, TIMEOUTS["billing"] + 0.1, SEED, first=1),
        # A 1% rate over ~60 ERP calls may miss: the first call times out for sure.
        "erp": SeededDelays("POST", SERVICE_PATH, 0.01, TIMEOUTS["erp"] + 0.5, SEED, first=1),
    }
    install_delays(billing.server, delays["billing"])
    install_delays(erp.server, delays["erp"])
    yield delays
    for gate in delays.values():
        gate.release()
    sandboxes.salesforce.faults.clear()


def _arm_salesforce(sandboxes: Sandboxes) -> None:
    salesforce = sandboxes.salesforce
    plan = salesforce.faults
    plan.clear()
    # A few calls read 5,500 orders, so rates alone may never hit them: script one of each.
    plan.script(error_fault(503, *SERVER_UNAVAILABLE))
    plan.script(Fault(delay_seconds=TIMEOUTS["salesforce"] + 0.5))
    plan.script(Fault(drop=True, path_contains="/query/"))
    plan.at_rate(0.05, error_fault(503, *SERVER_UNAVAILABLE), seed=SEED)
    plan.at_rate(0.01, Fault(drop=True), seed=SEED)


def _settings(sandboxes: Sandboxes, database_url: str) -> Settings:
    settings = sandboxes.settings(database_url, retry=RETRY)
    sections = {
        name: getattr(settings, name).model_copy(update={"timeout_seconds": seconds})
        for name, seconds in TIMEOUTS.items()
    }
    return settings.model_copy(update=sections)


@contextmanager
def _connectors(settings: Settings, waits: RetryWaits) -> Iterator[dict[str, Connector]]:
    connectors: dict[str, Connector] = {
        "salesforce": SalesforceConnector(
            settings.salesforce, settings.retry, sleep=waits.for_system("salesforce")
        ),
        "billing": BillingConnector(
            settings.billing, settings.retry, wait=waits.for_system("billing")
        ),
        "erp": ErpConnector(
            settings.erp, settings.retry, wsdl_cache=None, sleep=waits.for_system("erp")
        ),
    }
    try:
        yield connectors
    finally:
        for connector in connectors.values():
            connector.close()


def _run_until_complete(
    store: Store, mapping_set: MappingSet, settings: Settings, waits: RetryWaits
) -> list[RunSummary]:
    """Run the flow again after each failed run, as an operator would, up to ``MAX_RUNS``."""
    summaries = []
    for _ in range(MAX_RUNS):
        with _connectors(settings, waits) as connectors:
            engine = SyncEngine(store, mapping_set, connectors, QUOTE_TO_CASH)
            summaries.append(engine.run())
        if summaries[-1].status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
            return summaries
    messages = [summary.message for summary in summaries]
    pytest.fail(f"the flow did not complete in {MAX_RUNS} runs: {messages}")


def _refused_by_erp(expected: Expectations) -> list[str]:
    invalid = set(expected.invalid)
    valid = sorted(key for key, order in expected.orders.items() if order["Id"] not in invalid)
    return random.Random(SEED).sample(valid, ERP_REJECTED_ORDERS)


def test_faults_everywhere_still_land_every_valid_record_exactly_once(
    sandboxes: Sandboxes,
    faults: dict[str, SeededDelays],
    database_url: str,
    mapping_set: MappingSet,
) -> None:
    expected = expectations_from(sandboxes.salesforce)
    refused = _refused_by_erp(expected)
    expected = expectations_from(sandboxes.salesforce, refused)
    sandboxes.erp.poison(*refused)
    assert expected.source_records >= 20_000
    store = Store(database_url)
    waits = RetryWaits()

    try:
        summaries = _run_until_complete(
            store, mapping_set, _settings(sandboxes, database_url), waits
        )
        for gate in faults.values():
            gate.wait_idle()
        delivered = check_billing(sandboxes, expected)
        check_erp(sandboxes, expected)
        check_error_queue(store.engine, expected)
    finally:
        store.close()

    assert delivered >= 20_000, "accounts, products, orders and their lines delivered"
    # The faults really happened, and were survived by retrying.
    assert all(waits.count(system) >= 3 for system in ("salesforce", "billing", "erp")), waits
    assert 0.0 in waits.seconds["billing"], "a Retry-After: 0 was not honoured"
    assert faults["billing"].delayed > 0
    assert faults["erp"].delayed > 0
    assert summaries[-1].status is RunStatus.PARTIAL
