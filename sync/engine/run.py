"""One sync run: read changed records page by page, capture them once, deliver downstream.

Each page is committed in one transaction (canonical records, xrefs, error-queue entries and
the cursor together) only after every target answered, so a run killed at any point resumes
from the last committed page; downstream upserts by external id make the replay harmless.
A target that takes mixed batches (NetSuite) gets a page's last, partly filled call together
with the next page's records (sync/engine/carried_writes.py): the page commits at once all but those
records, and its cursor once they landed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace

from config.settings import ConflictSettings
from connectors.base import Connector, Page
from connectors.errors import ConnectorError
from mappings.mapping_set import EntityMapping, MappingSet
from sync.engine.backfill import BackfillWindow
from sync.engine.capture import CapturedRecord, capture_page
from sync.engine.carried_writes import CarriedWrites
from sync.engine.commit import PageOutcome, commit_page
from sync.engine.conflict_guard import ConflictGuard
from sync.engine.deletes import DeletePolicy, deactivated, split_deleted
from sync.engine.deliver import Delivery
from sync.engine.deliver_targets import deliver_to_targets
from sync.engine.flows import Flow
from sync.engine.heap import release_free_memory
from sync.engine.propagate import DeleteDelivery, SourceDeletion, propagate_to_targets
from sync.engine.read_ahead import PageReader, SourceReads
from sync.engine.remap import MappingChanges, detect_changes, recaptured_from_store
from sync.engine.resolver import StoreRefResolver
from sync.engine.specs import read_spec
from sync.engine.stats import CANONICAL, RunSummary, SystemCounts
from sync.store import Store
from sync.store.cursors import load_cursor, reset_cursor
from sync.store.error_queue import count_active, due_for_retry
from sync.store.fingerprints import save_fingerprints
from sync.store.records import content_hashes, iter_stored, load_payload, xref_entries
from sync.store.runs import finish_run, start_run
from sync.store.schema import ErrorStage, RunStatus

log = logging.getLogger("revbridge.sync")

PageCallback = Callable[[str, RunSummary], None]
# Pages waiting to commit behind a held write: bounds memory and what a crash replays.
MAX_OPEN_PAGES = 3
REDELIVER_BATCH = 500  # stored records re-sent per batch after a target mapping changed


class _StopRequested(Exception):
    """Raised between pages once a stop was requested; never escapes :meth:`SyncEngine.run`."""


@dataclass
class _OpenPage:
    """A delivered page not finally committed: some of its writes are held, or an older one's."""

    outcome: PageOutcome
    targets: Sequence[EntityMapping]  # in the order of ``outcome.deliveries``
    # Committed but for its held writes and its cursor: ``outcome`` keeps only what those need.
    staged: bool = False


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
        # entity -> source ids deferred during the current run, retried once at its end.
        self._deferred: dict[str, set[str]] = {}
        self._deferred_seen: dict[tuple[str, str], set[str]] = {}
        self._refused_deletes: set[tuple[str, str, str]] = set()  # (entity, system, source id)
        # Writes a packing target (NetSuite) holds for fuller calls, and the pages, oldest
        # first, that wait to be committed: a page commits once none of its writes is held.
        self._carried = CarriedWrites()
        self._open: list[_OpenPage] = []

    @property
    def connectors(self) -> Mapping[str, Connector]:
        """The connected systems this engine reads from and writes to."""
        return self._connectors

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

    def _execute(
        self,
        work: Callable[
            [Sequence[EntityMapping], MappingChanges, RunSummary, StoreRefResolver], None
        ],
    ) -> RunSummary:
        self._deferred = {}
        self._deferred_seen = {}
        self._refused_deletes = set()
        self._carried, self._open = CarriedWrites(), []
        with self._store.transaction() as connection:
            run_id = start_run(connection, self._flow.name)
        summary = RunSummary(run_id=run_id, flow=self._flow.name)
        resolver = StoreRefResolver(self._store.engine)
        started = time.monotonic()
        calls_before = self._api_calls()
        sources = self._source_entities()
        changes = detect_changes(self._store, self._flow.name, sources, self._targets)
        try:
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
        # Pages not committed by now replay on the next run, as after a crash.
        self._carried, self._open = CarriedWrites(), []
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
        if any(self._deferred.values()):
            self._commit_ready(summary, resolver, flush=True)
        for mapping in sources:
            deferred = self._deferred.pop(mapping.entity, set())
            if deferred:
                self._reprocess(mapping, sorted(deferred), summary, resolver)

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
            # A deferred record waits for a parent; none was captured or changed this run, so
            # fetching it again would only spend API calls.
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
        for page in reads.pages(index):
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
        deleted_ids, deactivated, doomed = self._deletions(mapping, page, resolver)
        if not retried:
            counts.deleted += len(deleted_ids)
        counts.rejected += sum(1 for f in failures if f.stage is not ErrorStage.RESOLVE)
        with self._store.engine.connect() as connection:
            stored_hashes = content_hashes(connection, [c.record.id for c in captured])
        changed = self._count_canonical_changes(
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
        self._note_deferred(mapping.entity, deferred, summary)
        deletes = propagate_to_targets(
            targets, doomed, self._connectors, self._store.engine, summary
        )
        outcome = PageOutcome(
            mapping, captured, changed, failures, deliveries, page.cursor, deleted_ids,
            deletes, [deletion.source_id for deletion in doomed],
        )  # fmt: skip
        self._open.append(_OpenPage(outcome, targets))
        self._commit_ready(summary, resolver)

    def _commit_ready(
        self, summary: RunSummary, resolver: StoreRefResolver, *, flush: bool = False
    ) -> None:
        """Commit the open pages: finally, oldest first, those none of whose writes is held;
        the rest all but their held writes and their cursors.

        With ``flush``, once a stop was requested, or when pages that write nothing (all
        unchanged) pile up behind a held write, held writes go out first, so every open page
        commits; a stop then ends the run here.
        """
        if flush or self._stop.is_set() or len(self._open) > MAX_OPEN_PAGES:
            self._carried.flush(self._connectors)
        # In order: a page's cursor must not pass records of an older page still held.
        while self._open and not self._carried.held_source_ids(self._open[0].outcome.deliveries):
            self._commit(self._open.pop(0), summary, resolver)
        for page in self._open:
            if not page.staged:
                self._stage(page, summary, resolver)
        if self._stop.is_set():
            raise _StopRequested

    def _commit(self, page: _OpenPage, summary: RunSummary, resolver: StoreRefResolver) -> None:
        """Commit what is left of a page, its cursor included."""
        outcome = page.outcome
        self._count_deliveries(page.targets, outcome.deliveries, summary)
        commit_page(self._store, self._flow.name, outcome, summary.run_id)
        if not page.staged:
            self._after_deletes(outcome.mapping.entity, outcome.deletes, summary, resolver)
        self._after_commit(outcome.mapping.entity, outcome.deliveries, summary, resolver)

    def _stage(self, page: _OpenPage, summary: RunSummary, resolver: StoreRefResolver) -> None:
        """Commit a page but for its held writes and its cursor, and let go of the rest of it.

        A crash before the page's final commit replays it: what landed is unchanged then, and
        the held records, with no xref in that target yet, are sent again.
        """
        outcome = page.outcome
        waiting = self._carried.held_source_ids(outcome.deliveries)
        failed = {f.captured.source_id for d in outcome.deliveries for f in d.failures}
        self._count_deliveries(page.targets, outcome.deliveries, summary)
        staged = replace(outcome, cursor=None, waiting=frozenset(waiting))
        commit_page(self._store, self._flow.name, staged, summary.run_id)
        self._after_deletes(outcome.mapping.entity, outcome.deletes, summary, resolver)
        for delivery in outcome.deliveries:
            for entry in delivery.xrefs:
                resolver.remember(entry.entity, entry.system, entry.canonical_id, entry.external_id)
            delivery.forget_committed()  # the held writes' results gather afresh
        page.outcome = PageOutcome(
            outcome.mapping,
            deliveries=outcome.deliveries,
            cursor=outcome.cursor,
            landed_late=sorted(waiting - failed),
        )
        page.staged = True

    def _deletions(
        self, mapping: EntityMapping, page: Page, resolver: StoreRefResolver
    ) -> tuple[list[str], list[CapturedRecord], list[SourceDeletion]]:
        """Canonical ids of records deleted at the source, their deactivated versions and the
        deletions to propagate to the targets."""
        deleted_ids: list[str] = []
        deactivated_records: list[CapturedRecord] = []
        doomed: list[SourceDeletion] = []
        policy = self._flow.delete_policy(mapping.entity)
        for raw in page.deleted:
            source_id = str(raw.get(mapping.key_field, ""))
            canonical_id = resolver.canonical_id(mapping.entity, mapping.system, source_id)
            if canonical_id is None:
                continue  # deleted before revbridge ever captured it: nothing downstream
            deleted_ids.append(canonical_id)
            log.info("%s %s was deleted in %s: %s downstream", mapping.entity, source_id,
                     mapping.system, policy.value)  # fmt: skip
            if policy is DeletePolicy.PROPAGATE:
                doomed.append(SourceDeletion(canonical_id, source_id, raw))
            if policy is not DeletePolicy.DEACTIVATE:
                continue
            with self._store.engine.connect() as connection:
                stored = load_payload(connection, canonical_id)
            patched = deactivated(mapping.entity, source_id, stored, raw) if stored else None
            if patched is not None:
                deactivated_records.append(patched)
        return deleted_ids, deactivated_records, doomed

    def _after_deletes(
        self,
        entity: str,
        deletes: Sequence[DeleteDelivery],
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        for delivery in deletes:
            for canonical_id in delivery.removed:
                resolver.forget(delivery.entity, delivery.system, canonical_id)
            refused = {(entity, delivery.system, i) for i in delivery.failed_source_ids}
            fresh = refused - self._refused_deletes
            summary.counts(delivery.entity, delivery.system).rejected += len(fresh)
            self._refused_deletes |= refused
            # Often a parent its children still use: try once more at the end of the run.
            self._deferred.setdefault(entity, set()).update(i for _, _, i in fresh)

    def _note_deferred(
        self, entity: str, deferred: Mapping[str, set[str]], summary: RunSummary
    ) -> None:
        """Count each deferred record once per run and remember it for the end-of-run retry."""
        for system, source_ids in deferred.items():
            seen = self._deferred_seen.setdefault((entity, system), set())
            summary.counts(entity, system).deferred += len(source_ids - seen)
            seen |= source_ids
            if source_ids:
                self._deferred.setdefault(entity, set()).update(source_ids)

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
            self._open.append(_OpenPage(PageOutcome(mapping, deliveries=deliveries), targets))
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

    @staticmethod
    def _count_deliveries(
        targets: Sequence[EntityMapping], deliveries: Sequence[Delivery], summary: RunSummary
    ) -> None:
        for target, delivery in zip(targets, deliveries, strict=True):
            counts = summary.counts(target.entity, delivery.system)
            counts.conflicts += delivery.conflicts
            counts.created += delivery.created
            counts.updated += delivery.updated
            counts.unchanged += delivery.unchanged
            counts.rejected += sum(
                1 for f in delivery.failures if f.stage is not ErrorStage.RESOLVE
            )

    def _after_commit(
        self,
        entity: str,
        deliveries: Sequence[Delivery],
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        for delivery in deliveries:
            for entry in delivery.xrefs:
                resolver.remember(entry.entity, entry.system, entry.canonical_id, entry.external_id)
        summary.pages += 1
        release_free_memory()  # keeps a long run's RSS flat (sync/engine/heap.py says why)
        if self._on_page is not None:
            self._on_page(entity, summary)

    @staticmethod
    def _count_canonical_changes(
        captured: Sequence[CapturedRecord], stored_hashes: Mapping[str, str], counts: SystemCounts
    ) -> list[CapturedRecord]:
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
