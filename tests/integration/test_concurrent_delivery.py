"""The engine writes each page to billing and the ERP at the same time, then commits it; the
next source page is read meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from config.settings import SalesforceSettings
from mappings.identity import canonical_id
from mappings.loader import load_mapping_set
from sandboxes.erp.sandbox import SERVICE_PATH
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.error_queue import list_errors
from sync.store.schema import ErrorStage, RunStatus
from tests.meeting_gate import MeetingGate

# Over 100 accounts: the ERP's first call (100 customers) goes out with the account page.
SIZE = SandboxSize(accounts=120, orders=24, products=5, invalid_records=False)
# queryMore, the call for a query's next page (the first page comes from ``/query?q=``).
QUERY_MORE = f"/services/data/v{SalesforceSettings().api_version}/query/"


@dataclass
class AfterLogin(MeetingGate):
    """A meeting gate for the ERP's first write: the run's login check (getServerTime) is the
    first SOAP call, made before any page, and goes through."""

    _login_seen: bool = False

    def hold_if_matching(self, method: str, path: str) -> bool:
        """Let the first matching request (the login check) pass, then meet as usual."""
        if method == self.method and path.startswith(self.path_prefix) and not self._login_seen:
            self._login_seen = True
            return False
        return super().hold_if_matching(method, path)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    """Salesforce, billing and ERP sandboxes seeded with a small CPQ data set."""
    with Sandboxes(SIZE) as started:
        yield started


def _run(sandboxes: Sandboxes, database_url: str, page_size: int = 2000) -> RunSummary:
    store = Store(database_url)
    try:
        settings = sandboxes.settings(database_url)
        salesforce = settings.salesforce.model_copy(update={"page_size": page_size})
        with open_connectors(settings.model_copy(update={"salesforce": salesforce})) as connectors:
            engine = SyncEngine(store, load_mapping_set(), connectors, QUOTE_TO_CASH)
            return engine.run()
    finally:
        store.close()


def test_billing_and_erp_are_in_flight_at_once_and_the_page_commits_after_both(
    sandboxes: Sandboxes, database_url: str
) -> None:
    # The first billing write and the first ERP write each wait for the other: delivered one
    # system after the other, they never meet and the barrier breaks.
    meeting = threading.Barrier(2, timeout=20.0)
    billing_gate = MeetingGate("POST", "/v1/customers/batch", barrier=meeting, first_only=True)
    erp_gate = AfterLogin("POST", SERVICE_PATH, barrier=meeting, first_only=True)
    sandboxes.billing.server.install_gate(billing_gate)
    sandboxes.erp.server.install_gate(erp_gate)

    summary = _run(sandboxes, database_url)

    assert (billing_gate.met, erp_gate.met) == ([True], [True])
    assert summary.status is RunStatus.SUCCEEDED, summary.message
    accounts = sandboxes.salesforce.records("Account")
    assert len(sandboxes.billing.resources("customers")) == len(accounts)
    assert summary.counts("account", "billing").created == len(accounts)
    assert summary.counts("account", "erp").created == len(accounts)
    again = _run(sandboxes, database_url)
    assert again.counts("account", "billing").created == 0, "xrefs of both systems committed"
    assert again.counts("account", "erp").created == 0


def test_record_billing_refuses_mid_batch_is_queued_with_its_reason_while_the_rest_land(
    sandboxes: Sandboxes, database_url: str
) -> None:
    accounts = sandboxes.salesforce.records("Account")
    refused = accounts[len(accounts) // 2]["Id"]
    sandboxes.billing.refuse(canonical_id("account", "salesforce", refused), "on credit hold")

    summary = _run(sandboxes, database_url)

    assert summary.status is RunStatus.PARTIAL
    assert summary.counts("account", "billing").created == len(accounts) - 1
    assert summary.counts("account", "billing").rejected == 1
    assert summary.counts("account", "erp").created == len(accounts), "the ERP took it"
    store = Store(database_url)
    with store.engine.connect() as connection:
        entries = list_errors(connection, entity="account", limit=None)
    store.close()
    [entry] = entries
    assert (entry.source_id, entry.target_system, entry.stage) == (
        refused,
        "billing",
        ErrorStage.WRITE.value,
    )
    assert (entry.code, entry.message) == ("record_refused", "on credit hold")
    assert entry.payload is not None
    assert entry.payload["name"] == accounts[len(accounts) // 2]["Name"]
    landed = {c["external_id"] for c in sandboxes.billing.resources("customers")}
    assert canonical_id("account", "salesforce", refused) not in landed
    assert len(landed) == len(accounts) - 1


def test_the_next_source_page_is_read_while_the_page_in_hand_is_delivered(
    database_url: str,
) -> None:
    # 450 accounts in pages of 200: the first customers batch of page one and the read of page
    # two each wait for the other; read only after page one is committed, they never meet.
    with Sandboxes(SandboxSize(accounts=450, orders=0, products=1, invalid_records=False)) as boxes:
        meeting = threading.Barrier(2, timeout=20.0)
        billing_gate = MeetingGate("POST", "/v1/customers/batch", barrier=meeting, first_only=True)
        read_gate = MeetingGate("GET", QUERY_MORE, barrier=meeting, first_only=True)
        boxes.billing.server.install_gate(billing_gate)
        boxes.salesforce.server.install_gate(read_gate)

        summary = _run(boxes, database_url, page_size=200)

        assert (billing_gate.met, read_gate.met) == ([True], [True])
        assert summary.status is RunStatus.SUCCEEDED, summary.message
        assert summary.counts("account", "salesforce").read == 450
        assert len(boxes.billing.resources("customers")) == 450
        assert summary.counts("account", "erp").created == 450
