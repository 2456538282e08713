"""A mapping change takes effect on the next run: only records whose output changes are sent."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mappings.loader import load_mapping_set, shipped_mapping_files
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine import run as engine_module
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store

SIZE = SandboxSize(accounts=12, orders=80, products=6)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        yield running


@pytest.fixture
def mapping_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    for path in shipped_mapping_files():
        shutil.copy(path, folder / path.name)
    return folder


def _run(sandboxes: Sandboxes, store: Store, mapping_dir: Path, database_url: str) -> RunSummary:
    mapping_set = load_mapping_set(sorted(mapping_dir.glob("*.yaml")))
    with open_connectors(sandboxes.settings(database_url)) as connectors:
        return SyncEngine(store, mapping_set, connectors, QUOTE_TO_CASH).run()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}; update this test with the mapping format"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("batch", [engine_module.REDELIVER_BATCH, 7])
def test_changed_target_mapping_resends_only_the_records_whose_payload_changes(
    sandboxes: Sandboxes,
    mapping_dir: Path,
    database_url: str,
    batch: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "REDELIVER_BATCH", batch)  # 7: many stored batches
    store = Store(database_url)
    _run(sandboxes, store, mapping_dir, database_url)
    drafts = [o for o in sandboxes.billing.resources("orders") if o["status"] == "draft"]
    assert drafts, "the seeded data needs draft orders for this test"
    before = sum(sandboxes.billing.writes.values())
    erp_before = sum(sandboxes.erp.upsert_count.values())

    # An admin decides billing should treat draft orders as active.
    _edit(mapping_dir / "billing.yaml", "{draft: draft, activated", "{draft: active, activated")
    summary = _run(sandboxes, store, mapping_dir, database_url)

    assert summary.systems["billing"].updated == len(drafts)
    assert sum(sandboxes.billing.writes.values()) - before == len(drafts)
    assert sum(sandboxes.erp.upsert_count.values()) == erp_before
    assert all(
        o["status"] == "active" for o in sandboxes.billing.resources("orders")
        if o["external_id"] in {d["external_id"] for d in drafts}
    )  # fmt: skip
    again = _run(sandboxes, store, mapping_dir, database_url)
    assert again.written == 0
    store.close()


def test_changed_source_mapping_recaptures_and_sends_only_what_changed(
    sandboxes: Sandboxes, mapping_dir: Path, database_url: str
) -> None:
    store = Store(database_url)
    _run(sandboxes, store, mapping_dir, database_url)
    accounts_read = 12
    billing_before = sum(sandboxes.billing.writes.values())

    # Capture no website any more: the ERP gets it (url), billing never did.
    _edit(mapping_dir / "salesforce.yaml", "website: {path: Website}", "")
    summary = _run(sandboxes, store, mapping_dir, database_url)

    assert summary.systems["salesforce"].read == accounts_read
    customers = len(sandboxes.billing.resources("customers"))
    assert summary.systems["canonical"].updated == customers
    assert sum(sandboxes.billing.writes.values()) == billing_before
    assert summary.systems["erp"].updated == customers
    store.close()
