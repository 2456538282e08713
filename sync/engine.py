"""One sync run: read changed records page by page, capture them once, deliver downstream.

Each page is committed in one transaction (canonical records, xrefs, error-queue entries and
the cursor together) only after every target answered, so a run killed at any point resumes
from the last committed page; downstream upserts by external id make the replay harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from connectors.base import Connector, Page
from connectors.errors import ConnectorError
from mappings.mapping_set import EntityMapping, MappingSet
from sync.capture import CapturedRecord, CaptureFailure, capture_page
from sync.deliver import Delivery, DeliveryFailure, deliver
from sync.errors import QueuedError, count_active, queue_error, resolve_landed
from sync.flows import Flow
from sync.resolver import StoreRefResolver
from sync.specs import read_spec
from sync.stats import CANONICAL, RunSummary
from sync.store import Store
from sync.store.cursors import load_cursor, save_cursor
from sync.store.records import (
    StoredRecord,
    XrefEntry,
    content_hashes,
    save_records,
    save_xrefs,
    xref_entries,
)
from sync.store.runs import finish_run, start_run
from sync.store.schema import RunStatus

log = logging.getLogger("revbridge.sync")

PageCallback = Callable[[str, RunSummary], None]


class SyncEngine:
    """Runs one flow against a store, a mapping set and connected systems."""

    def __init__(
        self,
        store: Store,
        mapping_set: MappingSet,
        connectors: Mapping[str, Connector],
        flow: Flow,
        *,
        page_size: int = 2000,
        on_page: PageCallback | None = None,
    ) -> None:
        self._store = store
        self._mappings = mapping_set
        self._connectors = connectors
        self._flow = flow
        self._page_size = page_size
        self._on_page = on_page

    def run(self) -> RunSummary:
        """Sync every entity of the flow, parents first; never raises for connector failures."""
        with self._store.transaction() as connection:
            run_id = start_run(connection, self._flow.name)
        summary = RunSummary(run_id=run_id, flow=self._flow.name)
        resolver = StoreRefResolver(self._store.engine)
        try:
            for mapping in self._source_entities():
                self._sync_entity(mapping, summary, resolver)
        except ConnectorError as error:
            summary.status = RunStatus.FAILED
            summary.message = f"{type(error).__name__}: {error}"
            log.error("run %s of flow %s failed: %s", run_id, self._flow.name, summary.message)
        else:
            summary.status = RunStatus.PARTIAL if summary.rejected else RunStatus.SUCCEEDED
        with self._store.transaction() as connection:
            summary.error_queue_active = count_active(connection)
            finish_run(connection, run_id, summary.status, summary.to_json(), summary.message)
        return summary

    def _source_entities(self) -> list[EntityMapping]:
        entities = self._mappings.source_entities(self._flow.source)
        return [mapping for mapping in entities if self._flow.includes(mapping.entity)]

    def _targets(self, entity: str) -> list[EntityMapping]:
        targets = self._mappings.targets_for(entity, self._flow.source)
        return [target for target in targets if target.system in self._flow.targets]

    def _sync_entity(
        self, mapping: EntityMapping, summary: RunSummary, resolver: StoreRefResolver
    ) -> None:
        with self._store.engine.connect() as connection:
            cursor = load_cursor(connection, self._flow.name, mapping.system, mapping.entity)
        source = self._connectors[mapping.system]
        targets = self._targets(mapping.entity)
        for page in source.read(read_spec(mapping, self._page_size), cursor):
            self._sync_page(mapping, targets, page, summary, resolver)
            summary.pages += 1
            if self._on_page is not None:
                self._on_page(mapping.entity, summary)

    def _sync_page(
        self,
        mapping: EntityMapping,
        targets: Sequence[EntityMapping],
        page: Page,
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        summary.counts(mapping.system).read += len(page.records)
        captured, failures = capture_page(mapping, page.records, resolver)
        summary.counts(mapping.system).rejected += len(failures)
        ids = [record.record.id for record in captured]
        with self._store.engine.connect() as connection:
            stored_hashes = content_hashes(connection, ids)
            written = {t.system: xref_entries(connection, t.system, ids) for t in targets}
        changed = self._count_canonical_changes(captured, stored_hashes, summary)
        deliveries = [
            deliver(
                target, captured, self._connectors[target.system], written[target.system], resolver
            )
            for target in targets
        ]
        for delivery in deliveries:
            self._count_delivery(delivery, summary)
        self._commit_page(mapping, page, captured, changed, failures, deliveries, summary.run_id)
        for delivery in deliveries:
            for entry in delivery.xrefs:
                resolver.remember(entry.entity, entry.system, entry.canonical_id, entry.external_id)

    @staticmethod
    def _count_canonical_changes(
        captured: Sequence[CapturedRecord], stored_hashes: Mapping[str, str], summary: RunSummary
    ) -> list[CapturedRecord]:
        counts = summary.counts(CANONICAL)
        changed = []
        for record in captured:
            previous = stored_hashes.get(record.record.id)
            if previous == record.content_hash:
                counts.unchanged += 1
                continue
            changed.append(record)
            if previous is None:
                counts.created += 1
            else:
                counts.updated += 1
        return changed

    @staticmethod
    def _count_delivery(delivery: Delivery, summary: RunSummary) -> None:
        counts = summary.counts(delivery.system)
        counts.created += delivery.created
        counts.updated += delivery.updated
        counts.unchanged += delivery.unchanged
        counts.rejected += len(delivery.failures)

    def _commit_page(
        self,
        mapping: EntityMapping,
        page: Page,
        captured: Sequence[CapturedRecord],
        changed: Sequence[CapturedRecord],
        failures: Sequence[CaptureFailure],
        deliveries: Sequence[Delivery],
        run_id: int,
    ) -> None:
        errors = [self._capture_error(mapping, failure) for failure in failures]
        errors += [
            self._delivery_error(mapping, delivery.system, failure)
            for delivery in deliveries
            for failure in delivery.failures
        ]
        failed_ids = {failure.captured.source_id for d in deliveries for failure in d.failures}
        landed = [record.source_id for record in captured if record.source_id not in failed_ids]
        with self._store.transaction() as connection:
            save_records(connection, [self._stored(mapping, record) for record in changed], run_id)
            save_xrefs(
                connection, [self._source_xref(mapping, record) for record in captured], run_id
            )
            for delivery in deliveries:
                save_xrefs(connection, delivery.xrefs, run_id)
            resolve_landed(connection, mapping.entity, mapping.system, landed)
            for error in errors:
                queue_error(connection, error, run_id)
            if page.cursor is not None:
                save_cursor(
                    connection, self._flow.name, mapping.system, mapping.entity, page.cursor, run_id
                )
        for error in errors:
            log.warning(
                "rejected %s %s at %s%s: %s",
                error.entity,
                error.source_id,
                error.stage.value,
                f" for {error.target_system}" if error.target_system else "",
                error.message,
            )

    @staticmethod
    def _stored(mapping: EntityMapping, captured: CapturedRecord) -> StoredRecord:
        record = captured.record
        return StoredRecord(
            canonical_id=record.id,
            entity=mapping.entity,
            payload=captured.canonical_json,
            content_hash=captured.content_hash,
            source_system=record.source.system,
            source_object=record.source.object,
            source_id=record.source.id,
            source_modified_at=record.source_modified_at,
        )

    @staticmethod
    def _source_xref(mapping: EntityMapping, captured: CapturedRecord) -> XrefEntry:
        return XrefEntry(
            system=mapping.system,
            canonical_id=captured.record.id,
            entity=mapping.entity,
            object_name=mapping.object_name,
            external_id=captured.source_id,
        )

    def _capture_error(self, mapping: EntityMapping, failure: CaptureFailure) -> QueuedError:
        return QueuedError(
            flow=self._flow.name,
            entity=mapping.entity,
            source_system=mapping.system,
            source_object=mapping.object_name,
            source_id=failure.source_id,
            stage=failure.stage,
            error_class=failure.error_class,
            message=failure.message,
            payload=dict(failure.raw),
            canonical_id=failure.canonical_id,
        )

    def _delivery_error(
        self, mapping: EntityMapping, system: str, failure: DeliveryFailure
    ) -> QueuedError:
        return QueuedError(
            flow=self._flow.name,
            entity=mapping.entity,
            source_system=mapping.system,
            source_object=mapping.object_name,
            source_id=failure.captured.source_id,
            stage=failure.stage,
            error_class=failure.error_class,
            message=failure.message,
            payload=failure.payload,
            canonical_id=failure.captured.record.id,
            target_system=system,
            code=failure.code,
        )
