"""Source deletions (Salesforce queryAll, IsDeleted) follow the flow's per-entity policy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from mappings.loader import load_mapping_set
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.deletes import DeletePolicy
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.schema import canonical_records

SIZE = SandboxSize(accounts=6, orders=20, products=4)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        yield running


def _run(sandboxes: Sandboxes, store: Store, flow: Flow, database_url: str) -> RunSummary:
    with open_connectors(sandboxes.settings(database_url)) as connectors:
        return SyncEngine(store, load_mapping_set(), connectors, flow).run()


def _is_deleted(store: Store, source_id: str) -> bool:
    with store.engine.connect() as connection:
        query = sa.select(canonical_records.c.is_deleted).where(
            canonical_records.c.source_id == source_id
        )
        return bool(connection.execute(query).scalar_one())


def _cancelled(sandboxes: Sandboxes) -> tuple[int, int]:
    billing = [o for o in sandboxes.billing.resources("orders") if o["status"] == "cancelled"]
    erp = [r for (kind, _), r in sandboxes.erp.records.items()
           if kind == "SalesOrder" and r.get("orderStatus") == "_cancelled"]  # fmt: skip
    return len(billing), len(erp)


def _valid_order(sandboxes: Sandboxes) -> str:
    invalid = sandboxes.salesforce.invalid_record_ids
    return next(o["Id"] for o in sandboxes.salesforce.records("Order")
                if o["Id"] not in invalid and o["Status"] != "Cancelled")  # fmt: skip


def test_deleted_order_is_cancelled_downstream_by_default(
    sandboxes: Sandboxes, database_url: str
) -> None:
    store = Store(database_url)
    _run(sandboxes, store, QUOTE_TO_CASH, database_url)
    order_id = _valid_order(sandboxes)
    cancelled_before = _cancelled(sandboxes)
    sandboxes.salesforce.delete_record("Order", order_id)

    summary = _run(sandboxes, store, QUOTE_TO_CASH, database_url)

    assert summary.by_entity["order"]["salesforce"].deleted == 1
    assert summary.systems["billing"].updated == summary.systems["erp"].updated == 1
    billing_after, erp_after = _cancelled(sandboxes)
    assert (billing_after, erp_after) == (cancelled_before[0] + 1, cancelled_before[1] + 1)
    assert _is_deleted(store, order_id)
    again = _run(sandboxes, store, QUOTE_TO_CASH, database_url)
    assert again.written == 0
    store.close()


def test_ignore_policy_records_the_deletion_and_writes_nothing(
    sandboxes: Sandboxes, database_url: str
) -> None:
    flow = replace(QUOTE_TO_CASH, deletes={"order": DeletePolicy.IGNORE})
    store = Store(database_url)
    _run(sandboxes, store, flow, database_url)
    order_id = _valid_order(sandboxes)
    writes_before = sum(sandboxes.billing.writes.values())
    sandboxes.salesforce.delete_record("Order", order_id)

    summary = _run(sandboxes, store, flow, database_url)

    assert summary.by_entity["order"]["salesforce"].deleted == 1
    assert summary.written == 0
    assert sum(sandboxes.billing.writes.values()) == writes_before
    assert _is_deleted(store, order_id)
    store.close()
