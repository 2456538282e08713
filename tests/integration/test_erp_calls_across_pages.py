"""The ERP's upsertList calls of the next page go out while the last page's are in flight,
never more at once than ``erp.concurrency``; over the wire, both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from lxml import etree  # type: ignore[import-untyped]

from mappings.identity import canonical_id
from mappings.loader import load_mapping_set
from sandboxes.erp import operations as erp_operations
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.schema import RunStatus
from tests.integration.erp_upsert_harness import upserted_external_ids

# Pages of 200 accounts (Salesforce's smallest page): two full upsertList calls each.
SIZE = SandboxSize(accounts=450, orders=40, products=3, invalid_records=False, page_size=200)


class FirstCallsMeet:
    """Holds each of the first ``parties`` upsertList calls until all of them are in at once."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self.met: list[bool] = []
        self.calls: list[set[str]] = []  # the externalIds of every call, in arrival order
        self._lock = threading.Lock()

    def arrive(self, request: etree._Element) -> None:
        records = upserted_external_ids(request)
        with self._lock:
            self.calls.append(records)
            held = len(self.calls) <= self.barrier.parties
        if held:
            try:
                self.barrier.wait()
                self.met.append(True)
            except threading.BrokenBarrierError:
                self.met.append(False)


@pytest.fixture
def meeting(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandboxes, FirstCallsMeet]]:
    gate = FirstCallsMeet(parties=3)
    answer = erp_operations._OPERATIONS["upsertList"]

    def held(request, header, store, searches):  # type: ignore[no-untyped-def]
        gate.arrive(request)
        return answer(request, header, store, searches)

    monkeypatch.setitem(erp_operations._OPERATIONS, "upsertList", held)
    with Sandboxes(SIZE) as sandboxes:
        yield sandboxes, gate


def _run(sandboxes: Sandboxes, database_url: str, concurrency: int) -> RunSummary:
    store = Store(database_url)
    try:
        settings = sandboxes.settings(database_url)
        erp = settings.erp.model_copy(update={"concurrency": concurrency})
        with open_connectors(settings.model_copy(update={"erp": erp})) as connectors:
            return SyncEngine(store, load_mapping_set(), connectors, QUOTE_TO_CASH).run()
    finally:
        store.close()


def _account_pages(sandboxes: Sandboxes) -> list[set[str]]:
    accounts = sorted(
        sandboxes.salesforce.records("Account"), key=lambda a: (a["SystemModstamp"], a["Id"])
    )
    ids = [canonical_id("account", "salesforce", account["Id"]) for account in accounts]
    return [set(ids[start : start + 200]) for start in range(0, len(ids), 200)]


def test_the_next_pages_erp_call_is_in_flight_with_the_last_pages_and_never_over_the_limit(
    meeting: tuple[Sandboxes, FirstCallsMeet], database_url: str
) -> None:
    sandboxes, gate = meeting
    # Three calls in flight at most, as NetSuite would refuse a fourth on this account.
    sandboxes.erp.set_call_latency({}, concurrency_limit=3)

    summary = _run(sandboxes, database_url, concurrency=3)

    # Page one's two calls are held until a call of page two is in too: delivered a page at
    # a time, page two's calls would only go once page one's answered: the barrier breaks.
    assert gate.met == [True, True, True]
    pages = _account_pages(sandboxes)
    assert gate.calls[0] | gate.calls[1] == pages[0]
    assert gate.calls[2] < pages[1], "the third call in flight is page two's"
    assert summary.status is RunStatus.SUCCEEDED, summary.message
    assert sandboxes.erp.max_concurrent_calls == 3, "never a fourth call in flight"
    answered = sum(sandboxes.erp.operations.values())
    assert sandboxes.erp.calls == answered, "no call was refused for the account's limit"
    assert summary.counts("account", "erp").created == 450
    assert summary.counts("order", "erp").created == 40


def test_delivered_a_page_at_a_time_the_third_call_never_meets_the_first_two(
    meeting: tuple[Sandboxes, FirstCallsMeet], database_url: str
) -> None:
    sandboxes, gate = meeting
    # The gate's own check: two calls allowed, so a third can't join them; it breaks.
    gate.barrier = threading.Barrier(3, timeout=2)

    summary = _run(sandboxes, database_url, concurrency=2)

    assert gate.met == [False, False, False]
    assert summary.status is RunStatus.SUCCEEDED, summary.message
    assert sandboxes.erp.max_concurrent_calls == 2
    assert summary.counts("account", "erp").created == 450
