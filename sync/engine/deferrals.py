"""Records a run puts off until its end: those whose parent has not landed yet, and source
deletions a target refused (often a parent its children still use).

Each is counted once per run, however often it comes back, and retried once when the run's
entities are done, against what the store then holds. Records queued by an earlier run for a
parent wait here too, and are retried at the end only if a parent landed in this run (an
amendment's original subscription is of its own entity, so it lands after their first retry).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sync.engine.propagate import DeleteDelivery
from sync.engine.resolver import StoreRefResolver
from sync.engine.stats import RunSummary


class Deferrals:
    """The source ids put off during one run, per entity."""

    def __init__(self) -> None:
        self._pending: dict[str, set[str]] = {}
        self._seen: dict[tuple[str, str], set[str]] = {}  # (entity, system) -> counted ids
        self._refused_deletes: set[tuple[str, str, str]] = set()  # (entity, system, source id)
        self._waiting: dict[str, set[str]] = {}  # queued earlier, still waiting for a parent

    def any(self) -> bool:
        """True when some record waits for the end-of-run retry."""
        return any(self._pending.values()) or any(self._waiting.values())

    def wait(self, entity: str, source_ids: Iterable[str]) -> None:
        """Keep records an earlier run queued for a parent, for the end-of-run retry."""
        self._waiting.setdefault(entity, set()).update(source_ids)

    def take(self, entity: str, parents_landed: bool = False) -> list[str]:
        """The source ids of ``entity`` to retry now, in order; forgotten once taken. Those an
        earlier run queued are among them only when a parent landed in this run."""
        waiting = self._waiting.pop(entity, set())
        return sorted(self._pending.pop(entity, set()) | (waiting if parents_landed else set()))

    def note(self, entity: str, deferred: Mapping[str, set[str]], summary: RunSummary) -> None:
        """Count each deferred record (system -> source ids) once and keep it for the retry."""
        for system, source_ids in deferred.items():
            seen = self._seen.setdefault((entity, system), set())
            summary.counts(entity, system).deferred += len(source_ids - seen)
            seen |= source_ids
            if source_ids:
                self._pending.setdefault(entity, set()).update(source_ids)

    def deletes_landed(
        self,
        entity: str,
        deletes: Sequence[DeleteDelivery],
        summary: RunSummary,
        resolver: StoreRefResolver,
    ) -> None:
        """Forget the xrefs of deleted records; count and keep the refused deletes."""
        for delivery in deletes:
            for canonical_id in delivery.removed:
                resolver.forget(delivery.entity, delivery.system, canonical_id)
            refused = {(entity, delivery.system, i) for i in delivery.failed_source_ids}
            fresh = refused - self._refused_deletes
            summary.counts(delivery.entity, delivery.system).rejected += len(fresh)
            self._refused_deletes |= refused
            self._pending.setdefault(entity, set()).update(i for _, _, i in fresh)
