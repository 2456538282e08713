"""Delivered pages waiting for their final commit, oldest first.

A page whose writes to a packing target (NetSuite) are held for a fuller call is committed
at once but for those writes and its cursor ("staged"), and finally once they landed. Pages
commit in order: a page's cursor must never pass records of an older page still held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from connectors.base import Connector
from mappings.mapping_set import EntityMapping
from sync.engine.carried_writes import CarriedWrites
from sync.engine.commit import PageOutcome, commit_page
from sync.engine.deliver import Delivery
from sync.engine.heap import release_free_memory
from sync.engine.propagate import DeleteDelivery
from sync.engine.resolver import StoreRefResolver
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.schema import ErrorStage

# Pages waiting to commit behind writes not answered yet: bounds memory (their payloads) and
# what a crash replays. Deep enough that the pages the engine got ahead with keep the target's
# calls going while a capture or a commit slows it (issue 14: with 3 the ERP went short).
MAX_OPEN_PAGES = 8

PageCallback = Callable[[str, RunSummary], None]
DeletesLanded = Callable[[str, Sequence[DeleteDelivery], RunSummary, StoreRefResolver], None]


@dataclass
class _OpenPage:
    """A delivered page not finally committed: some of its writes are held, or an older one's."""

    outcome: PageOutcome
    targets: Sequence[EntityMapping]  # in the order of ``outcome.deliveries``
    # Committed but for its held writes and its cursor: ``outcome`` keeps only what those need.
    staged: bool = False


class OpenPages:
    """The pages of one run between delivery and their final commit."""

    def __init__(
        self,
        store: Store,
        flow_name: str,
        connectors: Mapping[str, Connector],
        carried: CarriedWrites,
        *,
        on_page: PageCallback | None,
        on_deletes: DeletesLanded,
    ) -> None:
        self._store = store
        self._flow_name = flow_name
        self._connectors = connectors
        self._carried = carried
        self._on_page = on_page
        self._on_deletes = on_deletes
        self._open: list[_OpenPage] = []

    def add(self, outcome: PageOutcome, targets: Sequence[EntityMapping]) -> None:
        """Queue a delivered page for commit."""
        self._open.append(_OpenPage(outcome, targets))

    def commit_ready(
        self, summary: RunSummary, resolver: StoreRefResolver, *, flush: bool = False
    ) -> None:
        """Commit the open pages: finally, oldest first, those none of whose writes is held;
        the rest all but their held writes and their cursors.

        With ``flush`` every held write goes out and every open page commits. Past
        ``MAX_OPEN_PAGES``, this waits for the oldest pages' writes. When a write failed,
        what landed is committed all the same before the failure is raised.
        """
        try:
            if flush:
                self._carried.flush(self._connectors)
            while len(self._open) > MAX_OPEN_PAGES:
                self._carried.wait_for(self._open[0].outcome.deliveries)
                self._commit_landed(summary, resolver)
        except BaseException:
            # A write failed: what landed meanwhile is committed, so the rerun only sends
            # what did not.
            self._commit_landed(summary, resolver)
            for page in self._open:
                self._restage(page, summary, resolver)
            raise
        self._commit_landed(summary, resolver)

    def commit_until(
        self, done: Future[Any], summary: RunSummary, resolver: StoreRefResolver
    ) -> None:
        """Commit pages as their writes land until ``done`` (the next source page) is ready.

        Without this, a page whose writes landed would wait for the next read to commit.
        """
        answered = self._carried.answered
        done.add_done_callback(lambda _: answered.set())
        while not done.done():
            answered.clear()  # before looking: an answer from now on wakes the wait below
            self._commit_landed(summary, resolver)
            if not done.done():
                answered.wait()

    def _commit_landed(self, summary: RunSummary, resolver: StoreRefResolver) -> None:
        while self._open and not self._carried.held_source_ids(self._open[0].outcome.deliveries):
            self._commit(self._open.pop(0), summary, resolver)
        for page in self._open:
            if not page.staged:
                self._stage(page, summary, resolver)

    def _commit(self, page: _OpenPage, summary: RunSummary, resolver: StoreRefResolver) -> None:
        """Commit what is left of a page, its cursor included."""
        outcome = page.outcome
        count_deliveries(page.targets, outcome.deliveries, summary)
        commit_page(self._store, self._flow_name, outcome, summary.run_id)
        if not page.staged:
            self._on_deletes(outcome.mapping.entity, outcome.deletes, summary, resolver)
        _remember(outcome.deliveries, resolver)
        summary.pages += 1
        release_free_memory()  # keeps a long run's RSS flat (sync/engine/heap.py says why)
        if self._on_page is not None:
            self._on_page(outcome.mapping.entity, summary)

    def _stage(self, page: _OpenPage, summary: RunSummary, resolver: StoreRefResolver) -> None:
        """Commit a page but for its held writes and its cursor, and let go of the rest of it.

        A crash before the page's final commit replays it: what landed is unchanged then, and
        the held records, with no xref in that target yet, are sent again.
        """
        outcome = page.outcome
        waiting = self._carried.held_source_ids(outcome.deliveries)
        failed = {f.captured.source_id for d in outcome.deliveries for f in d.failures}
        count_deliveries(page.targets, outcome.deliveries, summary)
        staged = replace(outcome, cursor=None, waiting=frozenset(waiting))
        commit_page(self._store, self._flow_name, staged, summary.run_id)
        self._on_deletes(outcome.mapping.entity, outcome.deletes, summary, resolver)
        _remember(outcome.deliveries, resolver, forget=True)  # held writes' results come afresh
        page.outcome = PageOutcome(
            outcome.mapping,
            deliveries=outcome.deliveries,
            cursor=outcome.cursor,
            landed_late=sorted(waiting - failed),
        )
        page.staged = True

    def _restage(self, page: _OpenPage, summary: RunSummary, resolver: StoreRefResolver) -> None:
        """Commit what landed of a staged page's held writes since it was staged."""
        outcome = page.outcome
        waiting = self._carried.held_source_ids(outcome.deliveries)
        count_deliveries(page.targets, outcome.deliveries, summary)
        staged = replace(outcome, cursor=None, waiting=frozenset(waiting))
        commit_page(self._store, self._flow_name, staged, summary.run_id)
        _remember(outcome.deliveries, resolver, forget=True)
        still_held = [source_id for source_id in outcome.landed_late if source_id in waiting]
        page.outcome = replace(outcome, landed_late=still_held)


def _remember(
    deliveries: Sequence[Delivery], resolver: StoreRefResolver, *, forget: bool = False
) -> None:
    """Let the resolver know the committed xrefs; with ``forget``, drop the committed results."""
    for delivery in deliveries:
        for entry in delivery.xrefs:
            resolver.remember(entry.entity, entry.system, entry.canonical_id, entry.external_id)
        if forget:
            delivery.forget_committed()


def count_deliveries(
    targets: Sequence[EntityMapping], deliveries: Sequence[Delivery], summary: RunSummary
) -> None:
    """Add what each target's delivery did to the run's counts."""
    for target, delivery in zip(targets, deliveries, strict=True):
        counts = summary.counts(target.entity, delivery.system)
        counts.conflicts += delivery.conflicts
        counts.created += delivery.created
        counts.updated += delivery.updated
        counts.unchanged += delivery.unchanged
        counts.stripped += delivery.stripped
        counts.rejected += sum(1 for f in delivery.failures if f.stage is not ErrorStage.RESOLVE)
