"""The ``propagate`` delete policy over the wire: Salesforce deletions removed downstream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from mappings.loader import load_mapping_set
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine import open_pages as engine_module
from sync.engine.connections import open_connectors
from sync.engine.deletes import DeletePolicy
from sync.engine.dry_run import plan_run
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.cursors import reset_cursor
from sync.store.schema import error_queue, xref

SIZE = SandboxSize(accounts=6, orders=20, products=4)
PROPAGATE = replace(
    QUOTE_TO_CASH,
    deletes=dict.fromkeys(("account", "product", "order"), DeletePolicy.PROPAGATE),
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


def _open_errors(store: Store, source_id: str) -> list[sa.Row[Any]]:
    """Open error-queue entries of one source record (the seed has invalid records of its own)."""
    with store.engine.connect() as connection:
        query = sa.select(error_queue).where(
            error_queue.c.source_id == source_id, error_queue.c.status.in_(["open", "retrying"])
        )
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


def test_an_account_deleted_with_its_orders_goes_after_them_in_the_same_run(
    sandboxes: Sandboxes, store: Store
) -> None:
    account_id = _live_orders(sandboxes)[0]["AccountId"]
    orders = [
        o["Id"] for o in sandboxes.salesforce.records("Order") if o["AccountId"] == account_id
    ]
    for order_id in orders:
        sandboxes.salesforce.delete_record("Order", order_id)
    sandboxes.salesforce.delete_record("Account", account_id)
    account = _canonical(store, "account", account_id)

    summary = _run(sandboxes, store)

    # The account came first (parents are read first), was refused while its orders lived,
    # and went once they were gone; its queue entries are resolved.
    assert summary.by_entity["account"]["billing"].deleted == 1
    assert summary.by_entity["account"]["erp"].deleted == 1
    assert account not in _billing_ids(sandboxes, "customers")
    assert account not in _erp_ids(sandboxes, "Customer")
    assert _target_xrefs(store, account) == set()
    assert _open_errors(store, account_id) == []


def test_a_product_deleted_with_the_orders_selling_it_is_removed_downstream(
    sandboxes: Sandboxes, store: Store
) -> None:
    product_id = sandboxes.salesforce.records("Product2")[0]["Id"]
    sold_in = {i["OrderId"] for i in sandboxes.salesforce.records("OrderItem")
               if i["Product2Id"] == product_id}  # fmt: skip
    for order_id in sold_in:
        sandboxes.salesforce.delete_record("Order", order_id)
    sandboxes.salesforce.delete_record("Product2", product_id)
    product = _canonical(store, "product", product_id)

    summary = _run(sandboxes, store)

    assert summary.by_entity["product"]["billing"].deleted == 1
    assert product not in _billing_ids(sandboxes, "products")
    assert product not in _erp_ids(sandboxes, "ServiceSaleItem")
    assert _open_errors(store, product_id) == []


def test_a_record_already_gone_downstream_counts_as_deleted(
    sandboxes: Sandboxes, store: Store
) -> None:
    order_id = _live_orders(sandboxes)[0]["Id"]
    canonical_id = _canonical(store, "order", order_id)
    sandboxes.erp.delete("SalesOrder", canonical_id)
    sandboxes.salesforce.delete_record("Order", order_id)

    summary = _run(sandboxes, store)

    assert summary.by_entity["order"]["erp"].deleted == 1
    assert summary.rejected == 0
    assert _target_xrefs(store, canonical_id) == set()


def test_a_refused_delete_is_queued_while_other_deletions_proceed(
    sandboxes: Sandboxes, store: Store
) -> None:
    orders = _live_orders(sandboxes)
    account_id = orders[0]["AccountId"]
    other_order = next(o["Id"] for o in orders if o["AccountId"] != account_id)
    sandboxes.salesforce.delete_record("Account", account_id)  # its orders stay: refused
    sandboxes.salesforce.delete_record("Order", other_order)
    account = _canonical(store, "account", account_id)

    summary = _run(sandboxes, store)

    refused = {
        (row.target_system, row.stage, row.source_id) for row in _open_errors(store, account_id)
    }
    assert refused == {("billing", "write", account_id), ("erp", "write", account_id)}
    assert summary.by_entity["account"]["billing"].rejected == 1
    assert summary.by_entity["order"]["billing"].deleted == 1
    assert account in _billing_ids(sandboxes, "customers")
    assert _target_xrefs(store, account) == {"billing", "erp"}  # kept for the retry
    assert _canonical(store, "order", other_order) not in _billing_ids(sandboxes, "orders")


def test_a_crash_between_the_downstream_delete_and_the_commit_reruns_harmlessly(
    sandboxes: Sandboxes, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = _live_orders(sandboxes)[0]["Id"]
    canonical_id = _canonical(store, "order", order_id)
    sandboxes.salesforce.delete_record("Order", order_id)
    commit = engine_module.commit_page

    def crash_after_deletes(*args: Any) -> None:
        if args[2].deletes and any(d.removed for d in args[2].deletes):
            raise KeyboardInterrupt("killed before the page commit")
        commit(*args)

    monkeypatch.setattr(engine_module, "commit_page", crash_after_deletes)
    with pytest.raises(KeyboardInterrupt):
        _run(sandboxes, store)
    monkeypatch.setattr(engine_module, "commit_page", commit)
    assert canonical_id not in _billing_ids(sandboxes, "orders")
    assert _target_xrefs(store, canonical_id) == {"billing", "erp"}  # nothing committed

    summary = _run(sandboxes, store)

    assert summary.by_entity["order"]["billing"].deleted == 1
    assert summary.by_entity["order"]["erp"].deleted == 1
    assert summary.rejected == 0
    assert _target_xrefs(store, canonical_id) == set()


def test_dry_run_lists_the_planned_deletes_and_deletes_nothing(
    sandboxes: Sandboxes, store: Store
) -> None:
    order_id = _live_orders(sandboxes)[0]["Id"]
    canonical_id = _canonical(store, "order", order_id)
    sandboxes.salesforce.delete_record("Order", order_id)
    url = store.engine.url.render_as_string(hide_password=False)

    settings = sandboxes.settings(url)
    plan = plan_run(settings, load_mapping_set(), PROPAGATE)

    planned = {(d.entity, d.system, d.source_id, d.canonical_id) for d in plan.deletes}
    assert planned == {("order", "billing", order_id, canonical_id),
                       ("order", "erp", order_id, canonical_id)}  # fmt: skip
    assert canonical_id in _billing_ids(sandboxes, "orders") & _erp_ids(sandboxes, "SalesOrder")
    assert _target_xrefs(store, canonical_id) == {"billing", "erp"}


def test_a_deleted_contract_is_removed_from_the_erp_custom_records(
    sandboxes: Sandboxes, store: Store
) -> None:
    flow = replace(PROPAGATE, deletes={**PROPAGATE.deletes, "contract": DeletePolicy.PROPAGATE})
    invalid = sandboxes.salesforce.invalid_record_ids
    contract_id = next(
        c["Id"] for c in sandboxes.salesforce.records("Contract") if c["Id"] not in invalid
    )
    canonical_id = _canonical(store, "contract", contract_id)
    assert canonical_id in _erp_ids(sandboxes, "CustomRecord")
    sandboxes.salesforce.delete_record("Contract", contract_id)

    summary = _run(sandboxes, store, flow)

    assert summary.by_entity["contract"]["erp"].deleted == 1
    assert canonical_id not in _erp_ids(sandboxes, "CustomRecord")
    assert "erp" not in _target_xrefs(store, canonical_id)
    assert not [row for row in _open_errors(store, contract_id) if row.target_system == "erp"]


def _reset_cursor(store: Store, entity: str) -> None:
    with store.transaction() as connection:
        reset_cursor(connection, QUOTE_TO_CASH.name, "salesforce", entity)


def test_a_record_deleted_downstream_stays_deleted_until_its_source_is_undeleted(
    sandboxes: Sandboxes, store: Store
) -> None:
    order_id = _live_orders(sandboxes)[0]["Id"]
    canonical_id = _canonical(store, "order", order_id)
    sandboxes.salesforce.delete_record("Order", order_id)
    _run(sandboxes, store)
    assert canonical_id not in _billing_ids(sandboxes, "orders") | _erp_ids(sandboxes, "SalesOrder")

    # The admin goes back to the default policy (deactivate), and a reset cursor re-reads the
    # old deletion: what revbridge deleted downstream is not sent again as cancelled.
    _reset_cursor(store, "order")
    again = _run(sandboxes, store, QUOTE_TO_CASH)

    assert again.by_entity["order"]["salesforce"].deleted >= 1
    assert canonical_id not in _billing_ids(sandboxes, "orders") | _erp_ids(sandboxes, "SalesOrder")
    assert _target_xrefs(store, canonical_id) == set()

    sandboxes.salesforce.undelete_record("Order", order_id)
    back = _run(sandboxes, store, QUOTE_TO_CASH)

    assert back.by_entity["order"]["billing"].created == 1
    assert canonical_id in _billing_ids(sandboxes, "orders") & _erp_ids(sandboxes, "SalesOrder")
    assert _target_xrefs(store, canonical_id) == {"billing", "erp"}


def test_a_deactivated_record_is_deactivated_once_more_only_where_it_still_is(
    sandboxes: Sandboxes, store: Store
) -> None:
    order_id = next(o["Id"] for o in _live_orders(sandboxes) if o["Status"] == "Activated")
    canonical_id = _canonical(store, "order", order_id)
    sandboxes.salesforce.delete_record("Order", order_id)

    first = _run(sandboxes, store, QUOTE_TO_CASH)

    assert first.by_entity["order"]["billing"].updated == 1  # sent once more as cancelled
    cancelled = [o for o in sandboxes.billing.resources("orders")
                 if o["external_id"] == canonical_id]  # fmt: skip
    assert [o["status"] for o in cancelled] == ["cancelled"]
