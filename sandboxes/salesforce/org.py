"""The sandbox org's state: records, query snapshots, edits, the recycle bin, API usage.

Request threads share one :class:`SandboxOrg`; every public method holds its lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, cast

from sandboxes.salesforce.blng_rollups import roll_up_allocations, roll_up_invoices
from sandboxes.salesforce.cpq_lifecycle import seed_lifecycles
from sandboxes.salesforce.cpq_seed import IdFactory, LogicalClock, recompute_order_totals
from sandboxes.salesforce.faults import FaultPlan
from sandboxes.salesforce.locators import PackedRows, QueryLocators, in_batches
from sandboxes.salesforce.login import SandboxCredentials, SandboxLogin
from sandboxes.salesforce.on_demand import OnDemandRecords, SeededOrders, seeded_records
from sandboxes.salesforce.soql import SoqlError
from sandboxes.salesforce.soql_run import ChildRows, QueryPlan, plan_query
from sandboxes.salesforce.writes import (
    SandboxError,
    canonical_names,
    check_changes,
    find_object,
    not_found,
    upsert_collection,
)

# Child subquery rows past this many per parent come back behind their own nextRecordsUrl.
CHILD_BATCH = 200


class SandboxOrg:
    """The org's state, shared by the request threads."""

    def __init__(self, *, page_size: int, daily_api_limit: int, cpq: bool = True,
                 seed: int = 7, lifecycles: bool = False,
                 **seed_options: Any) -> None:  # fmt: skip
        self.lock = threading.RLock()
        self.clock, self.ids = LogicalClock(), IdFactory()
        # Orders and their CPQ records are regenerated from the seed when read; only what is
        # written is kept (a million seeded records as dicts took 2.5 GB).
        seeded = SeededOrders(cpq=cpq, seed=seed, clock=self.clock, ids=self.ids, **seed_options)
        self.records = seeded_records(seeded)
        self.invalid_record_ids = seeded.invalid_record_ids
        # Amendments, renewals and a cancellation as CPQ writes them, only when asked: they
        # add records the other tests' counts don't expect. They only add records and change
        # their own, which the mapping keeps.
        self.lifecycle_ids = (
            seed_lifecycles(
                cast("dict[str, dict[str, dict[str, Any]]]", self.records),
                self.clock,
                self.ids,
                self.invalid_record_ids,
            )
            if lifecycles
            else {}
        )
        self.page_size = page_size
        self.daily_api_limit = daily_api_limit
        self.api_calls = 0
        self.write_calls = 0  # the share of api_calls that create, change or delete records
        self.faults = FaultPlan()
        self.login = SandboxLogin(
            SandboxCredentials(
                username="revbridge@sandbox.example",
                password="sandbox-password",  # noqa: S106  - a throwaway loopback org
                security_token="SANDBOXTOKEN0000",  # noqa: S106
                client_id="3MVG9revbridgeSandboxClientId",
                client_secret="sandbox-client-secret",  # noqa: S106
            ),
            self.clock.epoch_millis,
        )
        self.recycle_bin: dict[str, str] = {}
        self._locators = QueryLocators()
        self._unfrozen: list[PackedRows] = []  # snapshots still reading live records

    @property
    def instance_url(self) -> str:
        """The org's base URL (set when the server starts)."""
        return self.login.instance_url

    @instance_url.setter
    def instance_url(self, url: str) -> None:
        self.login.instance_url = url

    # RecordStore, for the SOQL engine (callers hold the lock)
    def record(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """One record by id, deleted or not (to read: change records through ``records``)."""
        records = self.records.get(object_name, {})
        if isinstance(records, OnDemandRecords):
            return records.peek(record_id)
        return records.get(record_id)

    def records_of(self, object_name: str) -> Iterable[dict[str, Any]]:
        """Every record of one object (to read: change records through ``records``)."""
        records = self.records.get(object_name, {})
        if isinstance(records, OnDemandRecords):
            return records.scan()
        return list(records.values())

    def children(self, object_name: str, field: str) -> ChildRows:
        """Looks up the records of ``object_name`` whose ``field`` is a given parent id."""
        records = self.records.get(object_name, {})
        grouped: dict[str, list[dict[str, Any]]] | None = None

        def rows(parent_id: str) -> list[dict[str, Any]]:
            nonlocal grouped
            if isinstance(records, OnDemandRecords):
                found = records.children(field, parent_id)
                if found is not None:
                    return found
            if grouped is None:  # grouped once, at the first parent that needs it
                grouped = {}
                for child in self.records_of(object_name):
                    grouped.setdefault(child[field], []).append(child)
            return grouped.get(parent_id, [])

        return rows

    def _candidates(self, plan: QueryPlan) -> Iterable[dict[str, Any]]:
        """The records a query needs to look at: only those it names by id, when it does."""
        records = self.records.get(plan.object_name, {})
        wanted = plan.wanted_ids()
        if wanted is not None and isinstance(records, OnDemandRecords):
            return records.in_order(wanted)
        return self.records_of(plan.object_name)

    def count_call(self, *, write: bool = False) -> int:
        """Count one data API call (``write``: one that creates, changes or deletes records)."""
        with self.lock:
            self.api_calls += 1
            self.write_calls += write
            return self.api_calls

    def limit_info(self) -> str:
        """The ``Sforce-Limit-Info`` header value."""
        return f"api-usage={self.api_calls}/{self.daily_api_limit}"

    def over_allocation(self) -> bool:
        """True once the daily allocation is spent (calls answer REQUEST_LIMIT_EXCEEDED)."""
        return self.api_calls > self.daily_api_limit

    def run_query(self, text: str, include_deleted: bool, batch_size: int, version: str) -> Any:
        """Run SOQL; return the first batch and a ``nextRecordsUrl`` when there is more."""
        with self.lock:
            locator = self._locators.open(
                self.query_packed(text, include_deleted, version, batch_size)
            )
            return self._locators.batch(locator, 0, version)

    def query_packed(
        self, text: str, include_deleted: bool, version: str, batch_size: int
    ) -> PackedRows:
        """Every row a query returns, in Salesforce's JSON shape, packed ``batch_size`` a chunk.

        Rows are shaped a chunk at a time as pages ask for them; :meth:`freeze_snapshots`
        packs the rest before any record changes.
        """
        with self.lock:
            plan = self._plan(text, version)
            # Ids, not rows: rows regenerated on demand are read again as pages are shaped.
            ids = plan.select_ids(self._candidates(plan), include_deleted)
            children = plan.children_index()
            batches = (
                self._page_children(
                    plan.shape(self._rows(plan.object_name, part), include_deleted, children),
                    version,
                )
                for part in in_batches(ids, batch_size)
            )
            packed = PackedRows(batches, batch_size, len(ids))
            self._unfrozen = [r for r in self._unfrozen if not r.frozen] + [packed]
            return packed

    def _rows(self, object_name: str, ids: list[str]) -> list[dict[str, Any]]:
        rows = [self.record(object_name, record_id) for record_id in ids]
        return [row for row in rows if row is not None]

    def _for_update(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """A record to change in place (a seeded one is kept from now on), or None."""
        return self.records.get(object_name, {}).get(record_id)

    def freeze_snapshots(self) -> None:
        """Pack what earlier queries have not shaped yet: records are about to change."""
        with self.lock:
            for rows in self._unfrozen:
                rows.freeze()
            self._unfrozen = []

    def _plan(self, text: str, version: str) -> QueryPlan:
        try:
            return plan_query(text, self, version)
        except SoqlError as error:
            raise SandboxError(400, error.error_code, error.message) from error

    def _page_children(self, rows: list[Any], version: str) -> list[Any]:
        """Cut long child subquery results to CHILD_BATCH rows with their own next page."""
        for row in rows:
            for value in row.values():
                if (
                    isinstance(value, dict)
                    and "records" in value
                    and len(value["records"]) > (CHILD_BATCH)
                ):
                    children = value["records"]
                    packed = PackedRows(
                        in_batches(children, CHILD_BATCH), CHILD_BATCH, len(children)
                    )
                    locator = self._locators.open(packed)
                    value.update(self._locators.batch(locator, 0, version))
        return rows

    def query_more(self, locator_and_offset: str, version: str) -> Any:
        """The next batch of an earlier query, from its ``01g...-offset`` locator."""
        locator, _, offset = locator_and_offset.partition("-")
        with self.lock:
            if locator not in self._locators or not offset.isdigit():
                raise SandboxError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._locators.batch(locator, int(offset), version)

    def get_record(self, object_name: str, record_id: str) -> dict[str, Any]:
        """A copy of one live record, or a 404."""
        obj = find_object(object_name)
        with self.lock:
            found = self.record(obj.name, record_id)
            if found is None or found["IsDeleted"]:
                raise not_found()
            return {"attributes": {"type": obj.name}, **found}

    def update_record(self, object_name: str, record_id: str, changes: dict[str, Any]) -> None:
        """Apply a user's edit; a 400 with the first field error when it is not allowed."""
        obj = find_object(object_name)
        with self.lock:
            self.freeze_snapshots()
            found = self._for_update(obj.name, record_id)
            if found is None or found["IsDeleted"]:
                raise not_found()
            errors = check_changes(obj, changes, creating=False)
            if errors:
                raise SandboxError(400, errors[0]["statusCode"], errors[0]["message"])
            found.update(canonical_names(obj, changes))
            self.touch(obj.name, [found], self.clock.tick())

    def delete_record(self, object_name: str, record_id: str) -> None:
        """Soft-delete into the recycle bin; an Order takes its OrderItems with it."""
        obj = find_object(object_name)
        with self.lock:
            self.freeze_snapshots()
            found = self._for_update(obj.name, record_id)
            if found is None or found["IsDeleted"]:
                raise not_found()
            stamp = self.clock.tick()
            self._set_deleted(obj.name, [found], True)
            if obj.name == "Order":
                items = self._items_for_update(record_id)
                self._set_deleted("OrderItem", items, True)
                self.touch("OrderItem", items, stamp)
            self.touch(obj.name, [found], stamp)

    def undelete_record(self, object_name: str, record_id: str) -> None:
        """Restore a record from the recycle bin (a new SystemModstamp, IsDeleted false)."""
        obj = find_object(object_name)
        with self.lock:
            self.freeze_snapshots()
            found = self._for_update(obj.name, record_id)
            if found is None or record_id not in self.recycle_bin:
                raise not_found()
            self._set_deleted(obj.name, [found], False)
            self.touch(obj.name, [found], self.clock.tick())

    def empty_recycle_bin(self) -> None:
        """Hard-delete every record in the bin: even queryAll no longer sees them."""
        with self.lock:
            self.freeze_snapshots()
            for record_id, object_name in self.recycle_bin.items():
                self.records[object_name].pop(record_id, None)
            self.recycle_bin.clear()

    def _set_deleted(self, object_name: str, records: list[dict[str, Any]], deleted: bool) -> None:
        for record in records:
            record["IsDeleted"] = deleted
            if deleted:
                self.recycle_bin[record["Id"]] = object_name
            else:
                self.recycle_bin.pop(record["Id"], None)

    def touch(self, object_name: str, changed: list[dict[str, Any]], stamp: str) -> None:
        """Stamp changed records and roll line totals up to their Order or invoice, as an org
        does."""
        for record in changed:
            record["LastModifiedDate"] = record["SystemModstamp"] = stamp
        if object_name == "blng__InvoiceLine__c":
            roll_up_invoices(self.records, {r["blng__Invoice__c"] for r in changed})
        elif object_name == "blng__Invoice__c":
            roll_up_invoices(self.records, {r["Id"] for r in changed})
        elif object_name == "blng__Payment__c":
            roll_up_allocations(self.records, (), {r["Id"] for r in changed})
        elif object_name == "blng__PaymentAllocationInvoice__c":
            roll_up_allocations(
                self.records,
                {r["blng__Invoice__c"] for r in changed},
                {r["blng__Payment__c"] for r in changed},
            )
        if object_name not in ("Order", "OrderItem"):
            return
        order_ids = {r["OrderId"] if object_name == "OrderItem" else r["Id"] for r in changed}
        for order_id in order_ids:
            order = self.records["Order"].get(order_id)
            if order is not None:
                items = {item["Id"]: item for item in self._items_for_update(order_id)}
                recompute_order_totals({"OrderItem": items}, order)
                order["LastModifiedDate"] = order["SystemModstamp"] = stamp

    def _items_for_update(self, order_id: str) -> list[dict[str, Any]]:
        """An order's items, to change in place."""
        items = self.records["OrderItem"]
        return [items[row["Id"]] for row in self.children("OrderItem", "OrderId")(order_id)]

    def upsert_collection(
        self, object_name: str, external_id_field: str, body: Any
    ) -> list[dict[str, Any]]:
        """sObject Collections upsert: per-record results, in order; allOrNone honoured."""
        return upsert_collection(self, object_name, external_id_field, body)
