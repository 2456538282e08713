"""Resend: the stored canonical records of one target's entities, written to that target again.

For a target that lost records revbridge wrote there (a billing account restored from a
backup, a new ERP sandbox). Each entity (parents first) is read from the store in batches by
canonical id and goes through the engine's own delivery: ``from_canonical`` with refs through
the xref, the connector's idempotent upsert (the ERP's packed calls via ``CarriedWrites``),
and ``commit_page`` (xrefs, error-queue entries and the resend's position, together).

What differs from a run's delivery, and why:

- **Every record is written.** Delivery is given no stored xrefs, so no payload counts as
  unchanged and no target id known from before is sent. A restored or new target may not
  hold those ids: upserts by external id (generic billing, NetSuite, Salesforce) find the
  record where it still exists and create it where it does not, and the Stripe profile finds
  it by its metadata search. An id the target gives now replaces the stored one.
- **A stored id the target now gives to another record is forgotten first** (its xref is
  deleted, :func:`_settle_ids`), so children never point at the wrong parent and the xref
  stays one-to-one; the record that held it gets its own id when its turn comes.
- **A record that does not land loses its last-written hash** (its stored id is kept): the
  flow's next delivery, an error-queue retry, sends it again instead of calling it unchanged.
- **No conflict review**: the target is rebuilt from the store. Values a conflict policy once
  kept from the target are overwritten by the store's.
- **No source cursor moves.** The resend's position (the last canonical id committed, per
  entity) is a cursor under its own flow name, ``resend:<target>``, saved with each batch; the
  run is recorded under that name too. A fresh resend clears the positions, ``--resume RUN_ID``
  (the target's latest resend) starts after them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from config.settings import Settings
from connectors.base import Connector, Cursor
from connectors.errors import ConnectorError
from mappings.mapping_set import EntityMapping, MappingSet
from sync.engine.carried_writes import CarriedWrites
from sync.engine.commit import PageOutcome, commit_page
from sync.engine.connections import open_connectors
from sync.engine.deliver import Delivery
from sync.engine.deliver_targets import deliver_to_targets
from sync.engine.factory import OpenConnectors
from sync.engine.flows import Flow
from sync.engine.open_pages import count_deliveries
from sync.engine.remap import recaptured_from_store
from sync.engine.resolver import StoreRefResolver
from sync.engine.stats import CANONICAL, RunSummary
from sync.store import Store
from sync.store.cursors import load_cursor, reset_cursor
from sync.store.error_queue import count_active
from sync.store.records import StoredRecord, delete_xrefs, xref_entries
from sync.store.resend_queries import count_stored, latest_run_id, stored_batch, xref_holders
from sync.store.runs import find_run, finish_run, start_run
from sync.store.schema import ErrorStage, RunStatus

log = logging.getLogger("revbridge.sync")

RESEND_BATCH = 500  # stored records per delivery and commit

BatchCallback = Callable[[str, RunSummary], None]  # entity, the run so far; after each commit


class _StopRequested(Exception):
    """Raised between batches once a stop was requested; never escapes :meth:`Resender.run`."""


class ResendInvalid(ValueError):
    """The options do not name something a resend can do (target, flow, entity, run)."""


@dataclass(frozen=True)
class ResendEntity:
    """One entity to re-send: how its flow's source captures it and how the target takes it."""

    flow: str
    source: EntityMapping
    target: EntityMapping

    @property
    def entity(self) -> str:
        """The canonical entity."""
        return self.source.entity


@dataclass(frozen=True)
class ResendScope:
    """What a resend writes: ``entities`` (parents first) to ``target``, changed since ``since``.

    ``every`` is each entity the target takes, whatever was chosen: a fresh resend clears the
    positions of all of them, so a later ``--resume`` never starts from an older resend's.
    """

    target: str
    entities: tuple[ResendEntity, ...]
    every: tuple[ResendEntity, ...]
    since: datetime | None = None

    @property
    def flow_name(self) -> str:
        """The name the resend's runs, positions and error-queue entries go under."""
        return f"resend:{self.target}"

    @property
    def flows(self) -> tuple[str, ...]:
        """The flows whose records are re-sent, in configuration order."""
        return tuple(dict.fromkeys(item.flow for item in self.entities))


def resend_scope(
    mapping_set: MappingSet,
    flows: Mapping[str, Flow],
    target: str,
    *,
    flow: str | None = None,
    entities: Sequence[str] = (),
    since: datetime | None = None,
) -> ResendScope:
    """The entities the flows (or ``flow``) deliver to ``target``, limited to ``entities``."""
    every = _target_entities(mapping_set, flows.values(), target)
    if not every:
        targets = sorted({name for each in flows.values() for name in each.targets})
        raise ResendInvalid(f"no flow writes to {target!r}; targets: {', '.join(targets)}")
    chosen = every
    if flow is not None:
        if flow not in flows:
            raise ResendInvalid(f"no flow {flow!r}; configured: {', '.join(flows)}")
        chosen = tuple(item for item in every if item.flow == flow)
        if not chosen:
            raise ResendInvalid(f"flow {flow} does not write to {target}")
    names = [item.entity for item in chosen]
    unknown = [name for name in entities if name not in names]
    if unknown:
        raise ResendInvalid(
            f"{target} takes no {', '.join(unknown)} here; it takes: {', '.join(names)}"
        )
    if entities:
        chosen = tuple(item for item in chosen if item.entity in entities)
    return ResendScope(target, chosen, every, since)


def _target_entities(
    mapping_set: MappingSet, flows: Iterable[Flow], target: str
) -> tuple[ResendEntity, ...]:
    found: dict[str, ResendEntity] = {}
    for flow in flows:
        if target not in flow.targets:
            continue
        for source in mapping_set.source_entities(flow.source):
            if not flow.includes(source.entity) or source.entity in found:
                continue
            for mapping in mapping_set.targets_for(source.entity, flow.source):
                if mapping.system == target:
                    found[source.entity] = ResendEntity(flow.name, source, mapping)
    return tuple(found.values())


def plan_resend(store: Store, scope: ResendScope, resume: int | None = None) -> dict[str, int]:
    """Records each entity would send, in order (after ``resume``'s positions); writes nothing."""
    positions = resume_positions(store, scope, resume) if resume is not None else {}
    with store.engine.connect() as connection:
        return {
            item.entity: count_stored(
                connection, item.entity, after=positions.get(item.entity, ""), since=scope.since
            )
            for item in scope.entities
        }


def resume_positions(store: Store, scope: ResendScope, run_id: int) -> dict[str, str]:
    """The last canonical id committed per entity by resend run ``run_id`` and those before it.

    Only the target's latest resend can be resumed: a fresh one clears the positions.
    """
    with store.engine.connect() as connection:
        run = find_run(connection, run_id)
        if run is None or run.flow != scope.flow_name:
            raise ResendInvalid(f"run {run_id} is not a resend to {scope.target}")
        latest = latest_run_id(connection, scope.flow_name)
        if latest != run_id:
            raise ResendInvalid(f"run {run_id} was followed by resend run {latest}: resume that")
        positions = {
            item.entity: load_cursor(connection, scope.flow_name, item.source.system, item.entity)
            for item in scope.every
        }
    return {entity: cursor.record_id for entity, cursor in positions.items() if cursor}


class Resender:
    """Re-sends a scope's stored records to its target over open connectors."""

    def __init__(
        self,
        store: Store,
        connectors: Mapping[str, Connector],
        scope: ResendScope,
        *,
        batch_size: int = RESEND_BATCH,
        on_batch: BatchCallback | None = None,
    ) -> None:
        self._store = store
        self._connectors = connectors
        self._scope = scope
        self._batch_size = batch_size
        self._on_batch = on_batch
        self._stop = threading.Event()

    def request_stop(self) -> None:
        """Stop after the batch in hand commits (safe from a signal handler)."""
        self._stop.set()

    def run(self, resume: int | None = None) -> RunSummary:
        """Re-send every record in scope, after ``resume``'s positions when given.

        A connector failure fails the run; Ctrl-C or :meth:`request_stop` stops it. Both are
        resumable, and neither raises.
        """
        positions = self._start(resume)
        with self._store.transaction() as connection:
            run_id = start_run(connection, self._scope.flow_name)
        summary = RunSummary(run_id=run_id, flow=self._scope.flow_name)
        started = time.monotonic()
        again = f"resume with --resume {run_id}"
        try:
            self._resend_all(positions, summary)
        except ConnectorError as error:
            summary.status = RunStatus.FAILED
            summary.message = f"{type(error).__name__}: {error}; {again}"
            log.error("resend run %s failed: %s", run_id, summary.message)
        except (KeyboardInterrupt, _StopRequested):
            summary.status = RunStatus.STOPPED
            summary.message = f"interrupted after {summary.pages} committed batches; {again}"
        except BaseException as error:
            summary.status, summary.message = RunStatus.FAILED, f"{type(error).__name__}: {error}"
            self._finish(summary, started, resume)
            raise
        else:
            troubled = summary.rejected or summary.deferred
            summary.status = RunStatus.PARTIAL if troubled else RunStatus.SUCCEEDED
        self._finish(summary, started, resume)
        return summary

    def _start(self, resume: int | None) -> dict[str, str]:
        if resume is not None:
            return resume_positions(self._store, self._scope, resume)
        with self._store.transaction() as connection:
            for item in self._scope.every:
                reset_cursor(connection, self._scope.flow_name, item.source.system, item.entity)
        return {}

    def _finish(self, summary: RunSummary, started: float, resume: int | None) -> None:
        summary.duration_seconds = time.monotonic() - started
        scope = self._scope
        stats = summary.to_json()
        stats["resend"] = {
            "target": scope.target,
            "flows": list(scope.flows),
            "entities": [item.entity for item in scope.entities],
            "since": scope.since.isoformat() if scope.since else None,
            "resumed_run": resume,
        }
        with self._store.transaction() as connection:
            summary.error_queue_active = count_active(connection)
            stats["error_queue_active"] = summary.error_queue_active
            finish_run(connection, summary.run_id, summary.status, stats, summary.message)

    def _resend_all(self, positions: Mapping[str, str], summary: RunSummary) -> None:
        resolver = StoreRefResolver(self._store.engine)
        for item in self._scope.entities:  # parents first
            self._resend_entity(item, positions.get(item.entity, ""), summary, resolver)

    def _resend_entity(
        self, item: ResendEntity, after: str, summary: RunSummary, resolver: StoreRefResolver
    ) -> None:
        while True:
            # Each batch read on its own: memory stays flat and no read is open during a commit.
            with self._store.engine.connect() as connection:
                stored = stored_batch(connection, item.entity, after=after,
                                      limit=self._batch_size, since=self._scope.since)  # fmt: skip
            if not stored:
                return
            self._resend_batch(item, stored, summary, resolver)
            after = stored[-1].canonical_id
            if self._on_batch is not None:
                self._on_batch(item.entity, summary)
            if self._stop.is_set():
                raise _StopRequested

    def _resend_batch(
        self,
        item: ResendEntity,
        stored: Sequence[StoredRecord],
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        """Deliver one batch and commit its results with the entity's new position."""
        captured = recaptured_from_store(stored)  # a record that no longer validates is logged
        summary.counts(item.entity, CANONICAL).read += len(stored)
        target = item.target
        # No stored xrefs: nothing is unchanged, no old target id is trusted (module docstring).
        delivery = deliver_to_targets(
            [target], captured, self._connectors, {target.system: {}}, resolver,
            None, CarriedWrites(), hold=False,
        )[0]  # fmt: skip
        unconfirmed = _settle_ids(self._store, target, delivery, resolver)
        last = stored[-1]
        position = Cursor(last.source_modified_at.isoformat(), last.canonical_id)
        outcome = PageOutcome(item.source, deliveries=[delivery, unconfirmed], cursor=position)
        count_deliveries([target], [delivery], summary)
        summary.counts(item.entity, target.system).deferred += sum(
            1 for failure in delivery.failures if failure.stage is ErrorStage.RESOLVE
        )
        commit_page(self._store, self._scope.flow_name, outcome, summary.run_id)
        for entry in delivery.xrefs:
            resolver.remember(entry.entity, entry.system, entry.canonical_id, entry.external_id)
        summary.pages += 1


def _settle_ids(
    store: Store, target: EntityMapping, delivery: Delivery, resolver: StoreRefResolver
) -> Delivery:
    """Make room in the xref for the ids the target gave, and unconfirm what did not land.

    Deletes the xref of every record whose stored id the target now gives to another record,
    and returns (as a delivery holding only xrefs) the stored xrefs of the records that failed,
    with their last-written hash cleared.
    """
    system, entity = target.system, target.entity
    given = {entry.external_id: entry.canonical_id for entry in delivery.xrefs}
    failed = [failure.captured.record.id for failure in delivery.failures]
    with store.engine.connect() as connection:
        holders = xref_holders(connection, system, entity, list(given))
        prior = xref_entries(connection, system, failed)
    stale = sorted({holder for held, holder in holders.items() if holder != given[held]})
    if stale:
        log.info("%d %s ids in %s now belong to other records", len(stale), entity, system)
        with store.transaction() as connection:
            delete_xrefs(connection, system, stale)
        for canonical_id in stale:
            resolver.forget(entity, system, canonical_id)
    kept = [
        replace(entry, last_written_hash=None)
        for canonical_id, entry in prior.items()
        if canonical_id not in stale
    ]
    return Delivery(system=system, xrefs=kept)


@contextmanager
def open_resender(
    settings: Settings,
    store: Store,
    scope: ResendScope,
    *,
    batch_size: int = RESEND_BATCH,
    on_batch: BatchCallback | None = None,
    connect: OpenConnectors = open_connectors,
) -> Iterator[Resender]:
    """A resender on freshly opened connectors, which are closed on exit."""
    with connect(settings) as connectors:
        yield Resender(store, connectors, scope, batch_size=batch_size, on_batch=on_batch)
