"""SIGKILL a real ``revbridge run`` process mid-run; the re-run loses and duplicates nothing.

The sandboxes run in the test process, so downstream state outlives the killed client. Request
gates on the sandboxes stop the client at an exact point (no sleeps): waiting for the next
Salesforce page (once the previous page, delivered while that page is read, is committed), in
the middle of a page's billing writes, or with ERP calls of two pages in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]

from config.settings import SalesforceSettings
from mappings.identity import canonical_id
from sandboxes.erp import operations as erp_operations
from sandboxes.server import LoopbackServer
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from sync.store.cursors import load_cursor
from tests.cli_process import ROOT, revbridge
from tests.integration.erp_upsert_harness import upserted_external_ids

pytestmark = pytest.mark.slow

SIZE = SandboxSize(accounts=12, orders=450, products=6, page_size=200)


def _downstream_state(sandboxes: Sandboxes) -> dict[str, set[str]]:
    billing = sandboxes.billing
    state = {
        collection: {item["external_id"] for item in billing.resources(collection)}
        for collection in ("customers", "products", "orders")
    }
    for record_type, external_id in sandboxes.erp.records:
        state.setdefault(f"erp:{record_type}", set()).add(external_id)
    return state


def _created_once(sandboxes: Sandboxes) -> None:
    for collection in ("customers", "products", "orders"):
        created = sandboxes.billing.writes[(collection, "created")]
        assert created == len(sandboxes.billing.resources(collection)), collection
    internal_ids = Counter(record["internalId"] for record in sandboxes.erp.records.values())
    assert all(count == 1 for count in internal_ids.values())


@pytest.fixture
def config_file(tmp_path: Path, database_url: str) -> Iterator[tuple[Sandboxes, Path]]:
    with Sandboxes(SIZE) as sandboxes:
        path = tmp_path / "revbridge.yaml"
        write_sandbox_config(path, sandboxes.settings_document(database_url))
        yield sandboxes, path


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        revbridge("run", "--config", str(config), "--json"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _run_until_gate_then_kill(
    config: Path,
    server: LoopbackServer,
    method: str,
    prefix: str,
    let_through: int,
    after: str | None = None,
    until: Callable[[], bool] = lambda: True,
) -> None:
    """Run until the gate holds a request and ``until()`` holds, then SIGKILL the run."""
    gate = server.hold_requests(method, prefix, let_through=let_through, after=after)

    def reached() -> bool:
        held = gate.wait_until_held(timeout=120)
        assert held, f"the run never reached {method} {prefix}"
        return until()

    _run_then_kill(config, reached, gate.release)


def _run_then_kill(config: Path, reached: Callable[[], bool], release: Callable[[], None]) -> None:
    """Start a run, SIGKILL it once ``reached()`` holds, then ``release`` what the test held."""
    process = subprocess.Popen(
        revbridge("run", "--config", str(config)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(reached, process), "the run never reached the state to kill it in"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        release()
        if process.poll() is None:
            process.kill()
        process.communicate()


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> bool:
    """Poll ``condition`` for up to two minutes while the run is alive; True once it holds."""
    pause = threading.Event()
    for _ in range(2400):
        if condition():
            return True
        if process.poll() is not None:
            return False
        pause.wait(0.05)
    return False


def _order_cursor_committed(database_url: str) -> bool:
    store = Store(database_url)
    with store.engine.connect() as connection:
        cursor = load_cursor(connection, "quote-to-cash", "salesforce", "order")
    store.close()
    return cursor is not None


def _reference_state() -> dict[str, set[str]]:
    """Downstream state after one uninterrupted run on identically seeded sandboxes."""
    with tempfile.TemporaryDirectory() as folder, Sandboxes(SIZE) as sandboxes:
        config = Path(folder) / "revbridge.yaml"
        document = sandboxes.settings_document(f"sqlite:///{folder}/reference.db")
        write_sandbox_config(config, document)
        completed = _run(config)
        assert completed.returncode == 0, completed.stderr
        return _downstream_state(sandboxes)


@pytest.fixture(scope="module")
def reference_state() -> dict[str, set[str]]:
    return _reference_state()


def test_kill_between_two_salesforce_pages_then_rerun_converges(
    config_file: tuple[Sandboxes, Path], database_url: str, reference_state: dict[str, set[str]]
) -> None:
    sandboxes, config = config_file
    salesforce_server = sandboxes.salesforce.server
    # The second query-more call after the orders query (not its OrderItems subquery) is the
    # third page of orders; it is read while page two is delivered. Page one commits once the
    # ERP writes it left for fuller calls went out with page two's, so the kill waits for that.
    query_more = f"/services/data/v{SalesforceSettings().api_version}/query/"
    _run_until_gate_then_kill(
        config, salesforce_server, "GET", query_more, 1, "+FROM+Order+",
        until=lambda: _order_cursor_committed(database_url),
    )  # fmt: skip
    assert _order_cursor_committed(database_url), "page one of orders was not committed"
    partial = _downstream_state(sandboxes)
    assert len(partial["orders"]) < len(reference_state["orders"])

    completed = _run(config)

    assert completed.returncode == 0, completed.stderr
    assert _downstream_state(sandboxes) == reference_state
    _created_once(sandboxes)


def test_kill_in_the_middle_of_a_page_of_writes_then_rerun_converges(
    config_file: tuple[Sandboxes, Path], reference_state: dict[str, set[str]]
) -> None:
    sandboxes, config = config_file
    # Hold the second order batch: 100 orders of page one are in billing, none committed locally.
    _run_until_gate_then_kill(config, sandboxes.billing.server, "POST", "/v1/orders/", 1)
    # The held batch is served after the release, to a client that is gone.
    assert 100 <= len(sandboxes.billing.resources("orders")) <= 200

    completed = _run(config)

    assert completed.returncode == 0, completed.stderr
    assert _downstream_state(sandboxes) == reference_state
    _created_once(sandboxes)
    writes = sandboxes.billing.writes
    assert writes[("orders", "unchanged")] + writes[("orders", "updated")] >= 100  # replays


class HeldUpserts:
    """Holds every upsertList holding an order and notes its records; lets the rest through."""

    def __init__(self, orders: set[str]) -> None:
        self.orders = orders
        self.calls: list[set[str]] = []
        self.released = threading.Event()
        self._lock = threading.Lock()

    def arrive(self, request: etree._Element) -> None:
        records = upserted_external_ids(request)
        if records & self.orders:
            with self._lock:
                self.calls.append(records)
            self.released.wait(120)

    def held(self) -> set[str]:
        with self._lock:
            return set().union(*self.calls)


def test_kill_while_erp_calls_of_two_pages_are_in_flight_then_rerun_converges(
    config_file: tuple[Sandboxes, Path],
    database_url: str,
    reference_state: dict[str, set[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandboxes, config = config_file
    orders = sorted(
        sandboxes.salesforce.records("Order"), key=lambda o: (o["SystemModstamp"], o["Id"])
    )
    ids = [canonical_id("order", "salesforce", order["Id"]) for order in orders]
    page_one, page_two = set(ids[:200]), set(ids[200:400])
    upserts = HeldUpserts(set(ids))
    answer = erp_operations._OPERATIONS["upsertList"]

    def held(request, header, store, searches):  # type: ignore[no-untyped-def]
        upserts.arrive(request)
        return answer(request, header, store, searches)

    monkeypatch.setitem(erp_operations._OPERATIONS, "upsertList", held)

    def both_pages_held() -> bool:  # calls of page two go while page one's are unanswered
        return bool(upserts.held() & page_one) and bool(upserts.held() & page_two)

    # The held calls land once the run is killed, for a client that is gone.
    _run_then_kill(config, both_pages_held, upserts.released.set)
    # Page one's writes never answered: its cursor did not move, so the rerun reads it again.
    assert not _order_cursor_committed(database_url)

    completed = _run(config)

    assert completed.returncode == 0, completed.stderr
    assert _downstream_state(sandboxes) == reference_state
    _created_once(sandboxes)
