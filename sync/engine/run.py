"""One sync run: read changed records page by page, capture them once, deliver downstream.

Each page is committed in one transaction (canonical records, xrefs, error-queue entries and
the cursor together) only after every target answered, so a run killed at any point resumes
from the last committed page; downstream upserts by external id make the replay harmless.
A target that takes mixed batches (NetSuite) is written asynchronously across pages, its
calls packed with later pages' records (sync/engine/carried_writes.py): the engine goes on,
a page commits all but its unanswered writes at once, and its cursor once they landed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import replace
from functools import partial

from config.settings import ConflictSettings
from connectors.base import Connector, Page
from connectors.errors import ConnectorError
from mappings.mapping_set import EntityMapping, MappingSet
from sync.engine.backfill import BackfillWindow
from sync.engine.capture import CapturedRecord, capture_page
from sync.engine.carried_writes import CarriedWrites
from sync.engine.commit import PageOutcome
from sync.engine.conflict_guard import ConflictGuard
from sync.engine.deferrals import Deferrals
from sync.engine.deletes import read_deletions, split_deleted
from sync.engine.deliver import Delivery
from sync.engine.deliver_targets import deliver_to_targets
from sync.engine.flows import Flow
from sync.engine.logins import check_target_logins
from sync.engine.open_pages import OpenPages, PageCallback
from sync.engine.propagate import propagate_to_targets
from sync.engine.read_ahead import PageReader, SourceReads
from sync.engine.remap import MappingChanges, detect_changes, recaptured_from_store
from sync.engine.resolver import StoreRefResolver
from sync.engine.specs import read_spec
from sync.engine.stats import CANONICAL, RunSummary, count_canonical_changes
from sync.store import Store
from sync.store.cursors import load_cursor, reset_cursor
from sync.store.error_queue import count_active, due_for_retry
from sync.store.fingerprints import save_fingerprints
from sync.store.records import content_hashes, iter_stored, xref_entries
from sync.store.runs import finish_run, start_run
from sync.store.schema import ErrorStage, RunStatus

log = logging.getLogger("revbridge.sync")

_Work = Callable[[Sequence[EntityMapping], MappingChanges, RunSummary, StoreRefResolver], None]
REDELIVER_BATCH = 500  # stored records re-sent per batch after a target mapping changed


class _StopRequested(Exception):
    """Raised between pages once a stop was requested; never escapes :meth:`SyncEngine.run`."""


class SyncEngine:
    """Runs one flow against a store, a mapping set and connected systems."""

    def __init__(
        self,
        store: Store,
        mapping_set: MappingSet,
        connectors: Mapping[str, Connector],
        flow: Flow,
        *,
        on_page: PageCallback | None = None,
        max_auto_retries: int = 5,
        conflicts: ConflictSettings | None = None,
        window: BackfillWindow | None = None,
    ) -> None:
        self._store = store
        self._mappings = mapping_set
        self._connectors = connectors
        self._flow = flow
        self._on_page = on_page
        self._stop = threading.Event()
        self._max_auto_retries = max_auto_retries
        # None: write without checking targets for changes made behind revbridge's back.
        self._conflicts = conflicts
        # A backfill reads this window of history under the flow's backfill name.
        self._window = window
        if window is not None:
            self._flow = window.flow_for(flow)
        self._deferrals = Deferrals()  # retried once at the end of the run
        # Writes a packing target (NetSuite) holds for fuller calls, and the pages, oldest
        # first, that wait to be committed: a page commits once none of its writes is held.
        self._carried = CarriedWrites()
        self._pages = self._open_pages()

    @property
    def connectors(self) -> Mapping[str, Connector]:
        """The connected systems this engine reads from and writes to."""
        return self._connectors

    def _open_pages(self) -> OpenPages:
        return OpenPages(self._store, self._flow.name, self._connectors, self._carried,
                         on_page=self._on_page,
                         on_deletes=self._deferrals.deletes_landed)  # fmt: skip

    def request_stop(self) -> None:
        """Finish the page in hand, commit it, and end the run (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> RunSummary:
        """Sync every entity of the flow, parents first; never raises for connector failures."""
        return self._execute(self._sync_all)

    def retry(self, source_ids: Mapping[str, Sequence[str]]) -> RunSummary:
        """Re-read the given source records (entity -> ids) and sync them with today's mappings.

        The incremental cursors are left alone; entries of records that land are resolved.
        """
        return self._execute(lambda *args: self._retry_records(source_ids, *args))

    def _execute(self, work: _Work) -> RunSummary:
        # Fresh per run; the open pages report refused deletes to this run's deferrals.
        self._deferrals = Deferrals()
        self._carried = CarriedWrites()
        self._pages = self._open_pages()
        with self._store.transaction() as connection:
            run_id = start_run(connection, self._flow.name)
        summary = RunSummary(run_id=run_id, flow=self._flow.name)
        resolver = StoreRefResolver(self._store.engine)
        started = time.monotonic()
        calls_before = self._api_calls()
        sources = self._source_entities()
        changes = detect_changes(self._store, self._flow.name, sources, self._targets)
        try:
            check_target_logins(self._connectors, self._flow.targets)
            work(sources, changes, summary, resolver)
            self._commit_ready(summary, resolver, flush=True)
        except _StopRequested:
            summary.status = RunStatus.STOPPED
            summary.message = f"stopped on request after {summary.pages} committed pages"
        except ConnectorError as error:
            summary.status = RunStatus.FAILED
            summary.message = f"{type(error).__name__}: {error}"
            log.error("run %s of flow %s failed: %s", run_id, self._flow.name, summary.message)
        else:
            troubled = summary.rejected or summary.deferred
            summary.status = RunStatus.PARTIAL if troubled else RunStatus.SUCCEEDED
        finally:
            self._carried.close()  # nothing more goes out; the calls in flight finish
            self._pages = self._open_pages()  # uncommitted pages replay next run, as after a crash
        summary.duration_seconds = time.monotonic() - started
        summary.api_calls = {
            system: calls - calls_before.get(system, 0)
            for system, calls in self._api_calls().items()
        }
        with self._store.transaction() as connection:
            if summary.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
                save_fingerprints(connection, self._flow.name, changes.current)
            summary.error_queue_active = count_active(connection)
            finish_run(connection, run_id, summary.status, summary.to_json(), summary.message)
        return summary

    def _sync_all(
        self,
        sources: Sequence[EntityMapping],
        changes: MappingChanges,
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        reads = SourceReads(
            [self._reader(mapping, changes) for mapping in sources],
            # A source that is also a target here would have one connector used by two threads.
            ahead=not any(mapping.system in self._flow.targets for mapping in sources),
        )
        with closing(reads):
            for index, mapping in enumerate(sources):
                self._sync_entity(mapping, reads, index, changes, summary, resolver)
        # Records deferred earlier in this run may find their parents now (once per run). Their
        # pages are committed first, so they are retried against what the store holds.
        if self._deferrals.any():
            self._commit_ready(summary, resolver, flush=True)
        for mapping in sources:
            deferred = self._deferrals.take(mapping.entity, self._parents_changed(mapping, summary))
            if deferred:
                self._reprocess(mapping, deferred, summary, resolver)

    def _retry_records(
        self,
        source_ids: Mapping[str, Sequence[str]],
        sources: Sequence[EntityMapping],
        changes: MappingChanges,
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        for mapping in sources:
            ids = source_ids.get(mapping.entity)
            if ids:
                self._reprocess(mapping, list(ids), summary, resolver)

    def _retry_due(
        self, mapping: EntityMapping, summary: RunSummary, resolver: StoreRefResolver
    ) -> None:
        with self._store.engine.connect() as connection:
            due = due_for_retry(connection, mapping.entity, mapping.system, self._max_auto_retries)
        if not self._parents_changed(mapping, summary):
            # A deferred record waits for a parent; none was captured or changed yet this run, so
            # fetching it now would only spend API calls: the run's end does if one landed.
            waiting = [e.source_id for e in due if e.stage == ErrorStage.RESOLVE.value]
            self._deferrals.wait(mapping.entity, waiting)
            due = [entry for entry in due if entry.stage != ErrorStage.RESOLVE.value]
        if due:
            log.info("retrying %d queued %s records", len(due), mapping.entity)
            self._reprocess(mapping, sorted({e.source_id for e in due}), summary, resolver)

    @staticmethod
    def _parents_changed(mapping: EntityMapping, summary: RunSummary) -> bool:
        """True when this run captured a new or changed record ``mapping`` refers to."""
        for parent in mapping.referenced_entities():
            counts = summary.by_entity.get(parent, {}).get(CANONICAL)
            if counts is not None and counts.created + counts.updated > 0:
                return True
        return False

    def _reprocess(
        self,
        mapping: EntityMapping,
        source_ids: list[str],
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        """Fetch records as they are now and push them through the pipeline; cursor untouched."""
        records = self._connectors[mapping.system].fetch(read_spec(mapping), source_ids)
        found = {str(record.get(mapping.key_field)) for record in records}
        missing = [record_id for record_id in source_ids if record_id not in found]
        if missing:
            log.warning("%d %s records are gone from %s: %s", len(missing), mapping.entity,
                        mapping.system, ", ".join(missing[:5]))  # fmt: skip
        if records:
            targets = self._targets(mapping.entity)
            live, gone = split_deleted(records)  # a refused propagated delete is retried too
            retry = Page(records=live, cursor=None, deleted=gone)
            self._sync_page(mapping, targets, retry, summary, resolver, retried=True)

    def _api_calls(self) -> dict[str, int]:
        # Connectors that count their API calls expose `api_calls` (Salesforce's budget matters).
        return {
            system: int(calls)
            for system, connector in self._connectors.items()
            if isinstance(calls := getattr(connector, "api_calls", None), int)
        }

    def _source_entities(self) -> list[EntityMapping]:
        entities = self._mappings.source_entities(self._flow.source)
        return [mapping for mapping in entities if self._flow.includes(mapping.entity)]

    def _targets(self, entity: str) -> list[EntityMapping]:
        targets = self._mappings.targets_for(entity, self._flow.source)
        return [target for target in targets if target.system in self._flow.targets]

    def _reader(self, mapping: EntityMapping, changes: MappingChanges) -> PageReader:
        """Open the entity's incremental read from its cursor (reset if its capture changed).

        Cursors are loaded before any entity is synced: only the entity's own pages move its
        cursor, so reading it early sees the same one.
        """
        if changes.capture_changed(mapping):
            log.info("%s mapping of %s changed: re-reading it", mapping.system, mapping.entity)
            with self._store.transaction() as connection:
                reset_cursor(connection, self._flow.name, mapping.system, mapping.entity)
        with self._store.engine.connect() as connection:
            cursor = load_cursor(connection, self._flow.name, mapping.system, mapping.entity)
        spec = read_spec(mapping)
        if self._window is not None:
            cursor = cursor or self._window.start_cursor
            spec = replace(spec, until=self._window.until_stamp)
        connector = self._connectors[mapping.system]
        return lambda: connector.read(spec, cursor)

    def _sync_entity(
        self,
        mapping: EntityMapping,
        reads: SourceReads,
        index: int,
        changes: MappingChanges,
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        targets = self._targets(mapping.entity)
        if self._window is None:
            reads.settle()  # the retries fetch through the connector the read-ahead uses
            self._retry_due(mapping, summary, resolver)
        idle = partial(self._pages.commit_until, summary=summary, resolver=resolver)
        for page in reads.pages(index, idle):
            if page.total is not None:
                summary.expected[mapping.entity] = page.total
            self._sync_page(mapping, targets, page, summary, resolver)
        changed_targets = [t for t in targets if changes.delivery_changed(mapping, t)]
        if changed_targets and not changes.capture_changed(mapping):
            self._redeliver(mapping, changed_targets, summary, resolver)

    def _sync_page(
        self,
        mapping: EntityMapping,
        targets: Sequence[EntityMapping],
        page: Page,
        summary: RunSummary,
        resolver: StoreRefResolver,
        *,
        retried: bool = False,
    ) -> None:
        counts = summary.counts(mapping.entity, mapping.system)
        if not retried:  # a retry re-reads records already counted when they first came in
            counts.read += len(page.records) + len(page.deleted)
        captured, failures = capture_page(mapping, page.records, resolver)
        policy = self._flow.delete_policy(mapping.entity)
        systems = [target.system for target in targets]
        deletions = read_deletions(self._store, mapping, page.deleted, resolver, policy, systems)
        deleted_ids, deactivated, doomed = deletions
        if not retried:
            counts.deleted += len(deleted_ids)
        counts.rejected += sum(1 for f in failures if f.stage is not ErrorStage.RESOLVE)
        with self._store.engine.connect() as connection:
            stored_hashes = content_hashes(connection, [c.record.id for c in captured])
        changed = count_canonical_changes(
            captured, stored_hashes, summary.counts(mapping.entity, CANONICAL)
        )
        changed += deactivated
        deliveries = self._deliver(targets, [*captured, *deactivated], summary, resolver, hold=True)
        deferred = {
            mapping.system: {f.source_id for f in failures if f.stage is ErrorStage.RESOLVE}
        }
        for delivery in deliveries:
            deferred[delivery.system] = {
                f.captured.source_id for f in delivery.failures if f.stage is ErrorStage.RESOLVE
            }
        self._deferrals.note(mapping.entity, deferred, summary)
        deletes = propagate_to_targets(
            targets, doomed, self._connectors, self._store.engine, summary
        )
        outcome = PageOutcome(
            mapping, captured, changed, failures, deliveries, page.cursor, deleted_ids,
            deletes, [deletion.source_id for deletion in doomed],
        )  # fmt: skip
        self._pages.add(outcome, targets)
        self._commit_ready(summary, resolver)

    def _commit_ready(
        self, summary: RunSummary, resolver: StoreRefResolver, *, flush: bool = False
    ) -> None:
        """Commit what can be committed; once a stop was requested, everything, then stop."""
        self._pages.commit_ready(summary, resolver, flush=flush or self._stop.is_set())
        if self._stop.is_set():
            raise _StopRequested

    def _redeliver(
        self,
        mapping: EntityMapping,
        targets: Sequence[EntityMapping],
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        """Re-send stored records whose payload a changed target mapping now builds differently."""
        names = ", ".join(target.system for target in targets)
        log.info("%s mapping of %s changed: re-delivering from the store", names, mapping.entity)
        # The store must hold this run's versions, or older ones would overwrite them downstream.
        self._commit_ready(summary, resolver, flush=True)
        after = ""
        while True:
            # A batch at a time, each read on its own: memory stays flat and no read is open
            # while the batch's deliveries commit.
            with self._store.engine.connect() as connection:
                stored = next(iter_stored(connection, mapping.entity, REDELIVER_BATCH, after), [])
            if not stored:
                return
            after = stored[-1].canonical_id
            captured = recaptured_from_store(stored)
            deliveries = self._deliver(targets, captured, summary, resolver, hold=True)
            self._pages.add(PageOutcome(mapping, deliveries=deliveries), targets)
            self._commit_ready(summary, resolver)

    def _deliver(
        self,
        targets: Sequence[EntityMapping],
        captured: Sequence[CapturedRecord],
        summary: RunSummary,
        resolver: StoreRefResolver,
        *,
        hold: bool,
    ) -> list[Delivery]:
        ids = [record.record.id for record in captured]
        with self._store.engine.connect() as connection:
            written = {t.system: xref_entries(connection, t.system, ids) for t in targets}
        guard = (
            ConflictGuard(self._store, self._conflicts, summary.run_id) if self._conflicts else None
        )
        # Independent systems are written at the same time; all have answered on return.
        return deliver_to_targets(
            targets, captured, self._connectors, written, resolver, guard, self._carried, hold=hold
        )
