"""The ``propagate`` delete policy over the wire: Salesforce deletions removed downstream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from mappings.loader import load_mapping_set
from sync import engine as engine_module
from sync.connections import open_connectors
from sync.deletes import DeletePolicy
from sync.dry_run import DryRun
from sync.engine import SyncEngine
from sync.flows import QUOTE_TO_CASH, Flow
from sync.sandboxes import Sandboxes, SandboxSize
from sync.stats import RunSummary
from sync.store import Store
from sync.store.schema import error_queue, xref

SIZE = SandboxSize(accounts=6, orders=20, products=4)
PROPAGATE = replace(
    QUOTE_TO_CASH,
    deletes={entity: DeletePolicy.PROPAGATE for entity in ("account", "product", "order")},
)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        yield running


@pytest.fixture
def store(sandboxes: Sandboxes, database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    _run(sandboxes, opened, PROPAGATE)
    yield opened
    opened.close()


def _run(sandboxes: Sandboxes, store: Store, flow: Flow = PROPAGATE) -> RunSummary:
    url = store.engine.url.render_as_string(hide_password=False)
    with open_connectors(sandboxes.settings(url)) as connectors:
        return SyncEngine(store, load_mapping_set(), connectors, flow).run()


def _live_orders(sandboxes: Sandboxes) -> list[dict[str, Any]]:
    invalid = sandboxes.salesforce.invalid_record_ids
    return [o for o in sandboxes.salesforce.records("Order")
            if o["Id"] not in invalid and not o["IsDeleted"]]  # fmt: skip


def _billing_ids(sandboxes: Sandboxes, collection: str) -> set[str]:
    return {row["external_id"] for row in sandboxes.billing.resources(collection)}


def _erp_ids(sandboxes: Sandboxes, record_type: str) -> set[str]:
    return {ext for (kind, ext) in sandboxes.erp.records if kind == record_type}


def _canonical(store: Store, entity: str, source_id: str) -> str:
    with store.engine.connect() as connection:
        query = sa.select(xref.c.canonical_id).where(
            xref.c.system == "salesforce", xref.c.entity == entity, xref.c.external_id == source_id
        )
        return str(connection.execute(query).scalar_one())


def _target_xrefs(store: Store, canonical_id: str) -> set[str]:
    with store.engine.connect() as connection:
        query = sa.select(xref.c.system).where(xref.c.canonical_id == canonical_id)
        return {row.system for row in connection.execute(query)} - {"salesforce"}


def _open_errors(store: Store) -> list[sa.Row[Any]]:
    with store.engine.connect() as connection:
        query = sa.select(error_queue).where(error_queue.c.status.in_(["open", "retrying"]))
        return list(connection.execute(query))


def test_a_deleted_order_is_removed_from_billing_and_erp(
    sandboxes: Sandboxes, store: Store
) -> None:
    order_id = _live_orders(sandboxes)[0]["Id"]
    canonical_id = _canonical(store, "order", order_id)
    assert canonical_id in _billing_ids(sandboxes, "orders") & _erp_ids(sandboxes, "SalesOrder")
    sandboxes.salesforce.delete_record("Order", order_id)

    summary = _run(sandboxes, store)

    assert summary.by_entity["order"]["billing"].deleted == 1
    assert summary.by_entity["order"]["erp"].deleted == 1
    assert canonical_id not in _billing_ids(sandboxes, "orders")
    assert canonical_id not in _erp_ids(sandboxes, "SalesOrder")
    assert _target_xrefs(store, canonical_id) == set()
    assert summary.rejected == 0
