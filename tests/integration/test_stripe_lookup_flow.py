"""Quote-to-cash into a Stripe-compatible server without the Search API, on both databases.

Two runs, then a run on a lost store (a fresh database, the same billing sandbox), leave exactly
one Stripe object per record; ``revbridge check`` reports that lookups fall back to listing.
The sample orders are moved to dates around today, so their subscriptions are still running,
and every other line is made one-time, so invoice items are written too.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from config.redaction import Redactor
from config.settings import BillingLookup, BillingSettings, Settings
from mappings.loader import shipped_mapping_files
from sandboxes.billing.sandbox import BillingSandbox
from sync.cli.common import mappings_for
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.tools.system_check import CheckStatus, check_connections
from tests.integration.stripe_orders import current_orders

SIZE = SandboxSize(accounts=4, orders=12, products=3, invalid_records=False, page_size=200)
STRIPE_PROFILE = Path(__file__).resolve().parents[2] / "mappings/profiles/stripe"


@pytest.fixture
def mappings_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    for path in [*shipped_mapping_files(), *sorted(STRIPE_PROFILE.glob("*.yaml"))]:
        shutil.copy(path, folder / path.name)  # the profile's files replace the defaults
    return folder


class StripeFlow:
    """Quote-to-cash against the sandboxes with billing speaking Stripe, one store at a time."""

    def __init__(
        self, sandboxes: Sandboxes, database_url: str, mappings_dir: Path, lookup: BillingLookup
    ) -> None:
        billing = sandboxes.billing
        stripe = BillingSettings(
            base_url=billing.stripe_url,
            api_key=SecretStr(billing.api_key),
            profile="stripe",
            auth="basic",
            lookup=lookup,
        )
        base = sandboxes.settings(database_url)
        self.settings: Settings = base.model_copy(
            update={"billing": stripe, "mappings_dir": mappings_dir}
        )
        self.sandboxes = sandboxes
        self.billing: BillingSandbox = billing
        self.store = Store(database_url)

    def run(self) -> RunSummary:
        mapping_set = mappings_for(self.settings)
        with open_connectors(self.settings) as connectors:
            return SyncEngine(self.store, mapping_set, connectors, QUOTE_TO_CASH).run()

    def lose_store(self, database_url: str) -> None:
        """Carry on with a fresh, empty database (the old one lost), same sandboxes."""
        self.store.close()
        self.store = Store(database_url)
        self.settings = self.settings.model_copy(update={"database_url": database_url})

    def expected(self) -> dict[str, int]:
        """Stripe objects one per record: activated orders' recurring and one-time lines."""
        salesforce = self.sandboxes.salesforce
        activated = {o["Id"] for o in salesforce.records("Order") if o["Status"] == "Activated"}
        lines = [line for line in salesforce.records("OrderItem") if line["OrderId"] in activated]
        with_recurring = {line["OrderId"] for line in lines if line["EndDate"]}
        return {
            "customers": SIZE.accounts,
            "products": SIZE.products,
            "prices": SIZE.products * 3,
            "subscriptions": len(with_recurring),
            "invoiceitems": sum(1 for line in lines if not line["EndDate"]),
        }

    def tags(self) -> dict[str, Counter[str]]:
        """How many Stripe objects carry each revbridge id, per collection."""
        return {
            collection: Counter(
                o["metadata"].get("revbridge_id") for o in self.billing.stripe_objects(collection)
            )
            for collection in ("customers", "products", "prices", "subscriptions", "invoiceitems")
        }


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        current_orders(running)
        running.billing.set_stripe_search(enabled=False)
        yield running


def _second_database(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'lost-store.db'}"
    # A PostgreSQL schema of the same server: search_path is the last option of the URL.
    return database_url.replace("options=-csearch_path%3D", "options=-csearch_path%3Dlost_", 1)


@pytest.fixture
def lost_store_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    url = _second_database(database_url, tmp_path)
    if url.startswith("postgresql"):
        schema = url.rsplit("%3D", 1)[1]
        engine = sa.create_engine(url.split("?", 1)[0])
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield url
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
        return
    yield url


def test_without_search_two_runs_and_a_lost_store_leave_one_stripe_object_per_record(
    sandboxes: Sandboxes, database_url: str, lost_store_url: str, mappings_dir: Path
) -> None:
    flow = StripeFlow(sandboxes, database_url, mappings_dir, "auto")
    try:
        first = flow.run()
        second = flow.run()
        # Changed content gets new idempotency keys: only a lookup can find these objects now.
        for account in sandboxes.salesforce.records("Account"):
            renamed = {"Name": account["Name"] + " (renamed)"}
            sandboxes.salesforce.update_record("Account", account["Id"], renamed)
        flow.lose_store(lost_store_url)
        before_lost = len(flow.billing.stripe_requests)
        lost = flow.run()
    finally:
        flow.store.close()

    for summary in (first, second, lost):
        assert summary.rejected == 0, summary.message
    assert second.written == 0
    expected = flow.expected()
    assert expected["subscriptions"] > 0
    assert expected["invoiceitems"] > 0
    tags = flow.tags()
    assert {name: sum(counts.values()) for name, counts in tags.items()} == expected
    assert all(set(counts.values()) == {1} for counts in tags.values()), tags
    assert flow.billing.stripe_writes[("subscriptions", "created")] == expected["subscriptions"]
    lost_run = flow.billing.stripe_requests[before_lost:]
    creates = [r.path for r in lost_run if r.method == "POST" and r.path.count("/") == 2]
    assert creates == []
    assert all(c["name"].endswith("(renamed)") for c in flow.billing.stripe_objects("customers"))
    # The lost-store run's first search answered 404; from then on it listed, never searched.
    assert [r.path for r in lost_run if r.path.endswith("/search")] == ["/v1/customers/search"]
    listed = Counter(r.path for r in lost_run if r.method == "GET" and r.path.count("/") == 2)
    # Customers twice more: the run's login check reads a first page and settles the lookup.
    assert {path: listed[path] for path in ("/v1/customers", "/v1/products")} == {
        "/v1/customers": 3,
        "/v1/products": 1,
    }


def test_check_reports_that_lookups_fall_back_to_listing(
    sandboxes: Sandboxes, database_url: str, mappings_dir: Path
) -> None:
    flow = StripeFlow(sandboxes, database_url, mappings_dir, "auto")
    flow.store.close()

    rows = {row.name: row for row in check_connections(flow.settings, Redactor())}

    lookup = rows["billing lookup"]
    assert rows["billing"].status is CheckStatus.OK
    assert lookup.status is CheckStatus.WARNING
    assert lookup.detail.startswith("list (auto): GET ")
    assert "/v1/customers/search answered HTTP 404" in lookup.detail
    assert "billing.lookup: list" in lookup.detail


@pytest.mark.parametrize(
    ("lookup", "search_on", "status", "starts"),
    [
        ("auto", True, CheckStatus.OK, "search: GET /v1/customers/search answers"),
        ("list", False, CheckStatus.OK, "list: each collection"),
        ("none", False, CheckStatus.OK, "none: stored ids"),
    ],
)
def test_check_names_the_lookup_in_use(
    sandboxes: Sandboxes,
    database_url: str,
    mappings_dir: Path,
    lookup: BillingLookup,
    search_on: bool,
    status: CheckStatus,
    starts: str,
) -> None:
    sandboxes.billing.set_stripe_search(enabled=search_on)
    flow = StripeFlow(sandboxes, database_url, mappings_dir, lookup)
    flow.store.close()

    rows = {row.name: row for row in check_connections(flow.settings, Redactor())}

    assert (rows["billing lookup"].status, rows["billing lookup"].detail[: len(starts)]) == (
        status,
        starts,
    )


def test_check_fails_search_mode_on_a_server_without_search_and_says_what_to_set(
    sandboxes: Sandboxes, database_url: str, mappings_dir: Path
) -> None:
    flow = StripeFlow(sandboxes, database_url, mappings_dir, "search")
    flow.store.close()

    rows = {row.name: row for row in check_connections(flow.settings, Redactor())}

    assert rows["billing"].status is CheckStatus.FAILED
    assert "no search endpoint for customers" in rows["billing"].detail
    assert "set billing.lookup: list" in rows["billing"].detail
    assert "billing lookup" not in rows
