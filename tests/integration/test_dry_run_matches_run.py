"""A dry run plans exactly what the next real run writes: same records, same targets, same ids.

Each case plans, then runs for real, and compares the plan with what the run did, read from the
store: the xref rows the run wrote (create: no xref before) and the ones it removed (deletes).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from config.settings import Settings
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import MappingSet
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.backfill import BackfillWindow, parse_moment
from sync.engine.deletes import DeletePolicy
from sync.engine.dry_run import DryRunPlan, plan_run
from sync.engine.factory import open_engine
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.schema import RunStatus, metadata, xref

SIZE = SandboxSize(accounts=8, orders=30, products=5)
Write = tuple[str, str, str, str]  # entity, system, canonical id, create|update
Delete = tuple[str, str, str]  # entity, system, canonical id


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


def _mappings(folder: Path) -> MappingSet:
    return load_mapping_set(sorted(folder.glob("*.yaml")))


def _xrefs(database_url: str) -> dict[tuple[str, str], tuple[str, int | None]]:
    """(system, canonical id) -> (entity, run id that last wrote it), from the real store."""
    store = Store(database_url)
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(sa.select(xref.c.system, xref.c.canonical_id,
                                                xref.c.entity, xref.c.run_id))  # fmt: skip
            return {(r.system, r.canonical_id): (r.entity, r.run_id) for r in rows}
    finally:
        store.close()


def _target_xrefs(database_url: str, flow: Flow) -> dict[tuple[str, str], tuple[str, int | None]]:
    """The xrefs in the flow's targets (the source's own ids are xrefs too)."""
    if not _migrated(database_url):
        return {}
    return {key: row for key, row in _xrefs(database_url).items() if key[0] in flow.targets}


def _planned(plan: DryRunPlan) -> tuple[set[Write], set[Delete]]:
    writes = {(w.entity, w.system, w.canonical_id, w.action) for w in plan.writes}
    deletes = {(d.entity, d.system, d.canonical_id) for d in plan.deletes}
    assert len(writes) == len(plan.writes), "a record is planned once per target"
    return writes, deletes


def _run_and_observe(
    settings: Settings, mapping_set: MappingSet, flow: Flow, window: BackfillWindow | None = None
) -> tuple[RunSummary, set[Write], set[Delete]]:
    before = _target_xrefs(settings.database_url, flow)
    store = Store(settings.database_url)
    try:
        with open_engine(settings, store, mapping_set, flow, window=window) as engine:
            summary = engine.run()
    finally:
        store.close()
    after = _target_xrefs(settings.database_url, flow)
    writes = {
        (entity, system, canonical_id, "update" if (system, canonical_id) in before else "create")
        for (system, canonical_id), (entity, run_id) in after.items()
        if run_id == summary.run_id
    }
    deletes = {(before[key][0], *key) for key in before.keys() - after.keys()}
    return summary, writes, deletes


def _migrated(database_url: str) -> bool:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return "xref" in sa.inspect(connection).get_table_names()
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def _assert_plan_is_the_run(
    settings: Settings, mapping_set: MappingSet, flow: Flow, window: BackfillWindow | None = None
) -> tuple[RunSummary, DryRunPlan]:
    plan = plan_run(settings, mapping_set, flow, window=window)
    planned_writes, planned_deletes = _planned(plan)
    summary, writes, deletes = _run_and_observe(settings, mapping_set, flow, window)
    assert summary.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), summary.message
    assert plan.status is summary.status
    assert planned_writes == writes
    assert planned_deletes == deletes
    read = {e: c[flow.source].read for e, c in summary.by_entity.items() if flow.source in c}
    assert {e: n for e, n in plan.read.items() if n} == {e: n for e, n in read.items() if n}
    return summary, plan


def test_on_a_store_never_created_the_plan_is_the_first_run_children_included(
    sandboxes: Sandboxes, database_url: str, mapping_dir: Path, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'not-yet.db'}"
    settings = sandboxes.settings(database_url)
    mapping_set = _mappings(mapping_dir)

    plan = plan_run(settings, mapping_set, QUOTE_TO_CASH)

    assert not (tmp_path / "not-yet.db").exists(), "a dry run never creates the store"
    entities = {w.entity for w in plan.writes}
    assert {"account", "contact", "order"} <= entities, "children are planned with parents"
    assert sandboxes.billing.resources("customers") == []
    summary, _ = _assert_plan_is_the_run(settings, mapping_set, QUOTE_TO_CASH)
    assert summary.written > 0


def test_after_a_mapping_edit_the_plan_is_the_run(
    sandboxes: Sandboxes, database_url: str, mapping_dir: Path
) -> None:
    settings = sandboxes.settings(database_url)
    _run_and_observe(settings, _mappings(mapping_dir), QUOTE_TO_CASH)
    billing = mapping_dir / "billing.yaml"
    text = billing.read_text()
    assert "{draft: draft, activated" in text
    billing.write_text(text.replace("{draft: draft, activated", "{draft: active, activated", 1))

    summary, _ = _assert_plan_is_the_run(settings, _mappings(mapping_dir), QUOTE_TO_CASH)

    assert summary.systems["billing"].updated > 0


def test_after_source_edits_the_plan_is_the_run(
    sandboxes: Sandboxes, database_url: str, mapping_dir: Path
) -> None:
    settings = sandboxes.settings(database_url)
    mapping_set = _mappings(mapping_dir)
    _run_and_observe(settings, mapping_set, QUOTE_TO_CASH)
    accounts = sandboxes.salesforce.records("Account")[:2]
    for number, account in enumerate(accounts):
        phone = {"Phone": f"+1 555 010{number}"}
        sandboxes.salesforce.update_record("Account", account["Id"], phone)

    summary, _ = _assert_plan_is_the_run(settings, mapping_set, QUOTE_TO_CASH)

    assert summary.written == 2 * len(accounts)


@pytest.mark.parametrize("policy", list(DeletePolicy))
def test_after_deletions_the_plan_is_the_run_under_each_delete_policy(
    sandboxes: Sandboxes, database_url: str, mapping_dir: Path, policy: DeletePolicy
) -> None:
    settings = sandboxes.settings(database_url)
    mapping_set = _mappings(mapping_dir)
    entities = ("account", "contact", "order")
    flow = Flow("quote-to-cash", "salesforce", ("billing", "erp"),
                deletes=dict.fromkeys(entities, policy))  # fmt: skip
    _run_and_observe(settings, mapping_set, flow)
    order = sandboxes.salesforce.records("Order")[-1]
    contact = sandboxes.salesforce.records("Contact")[-1]
    # An account no order or contact refers to: its delete can land.
    used = {o["AccountId"] for o in sandboxes.salesforce.records("Order")}
    used |= {c["AccountId"] for c in sandboxes.salesforce.records("Contact")}
    spare = [a for a in sandboxes.salesforce.records("Account") if a["Id"] not in used]
    sandboxes.salesforce.delete_record("Order", order["Id"])
    sandboxes.salesforce.delete_record("Contact", contact["Id"])
    for account in spare[:1]:
        sandboxes.salesforce.delete_record("Account", account["Id"])

    _, plan = _assert_plan_is_the_run(settings, mapping_set, flow)

    planned_orders = {(w.system, w.action) for w in plan.writes if w.entity == "order"}
    if policy is DeletePolicy.PROPAGATE:
        assert {(d.entity, d.system) for d in plan.deletes} >= {("order", "billing"),
                                                                ("order", "erp")}  # fmt: skip
    elif policy is DeletePolicy.DEACTIVATE:
        assert planned_orders == {("billing", "update"), ("erp", "update")}
        assert plan.deletes == []
    else:
        assert (planned_orders, plan.deletes) == (set(), [])


def test_backfill_dry_run_on_an_empty_store_plans_what_the_backfill_writes(
    sandboxes: Sandboxes, database_url: str, mapping_dir: Path
) -> None:
    settings = sandboxes.settings(database_url)
    mapping_set = _mappings(mapping_dir)
    window = BackfillWindow(parse_moment("2000-01-01"))

    plan = plan_run(settings, mapping_set, QUOTE_TO_CASH, window=window)

    children = [w for w in plan.writes if w.entity in ("order", "contact")]
    assert children, "children are planned after their parents, not held back"
    assert not [h for h in plan.held if "not synced" in h[3]]
    _assert_plan_is_the_run(settings, mapping_set, QUOTE_TO_CASH, window)


def test_the_store_is_left_as_it_was(sandboxes: Sandboxes, database_url: str) -> None:
    settings = sandboxes.settings(database_url)
    store = Store(database_url)
    with store.engine.connect() as connection:
        before = [list(connection.execute(sa.select(t))) for t in metadata.sorted_tables]
    plan_run(settings, load_mapping_set(), QUOTE_TO_CASH)
    with store.engine.connect() as connection:
        after = [list(connection.execute(sa.select(t))) for t in metadata.sorted_tables]
    store.close()
    assert after == before
