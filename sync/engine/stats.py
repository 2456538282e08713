"""Counts of one run, per entity and system, as shown in the run table and stored with the run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sync.engine.capture import CapturedRecord
from sync.store.schema import RunStatus

CANONICAL = "canonical"  # the row of the canonical store in a run's counts


@dataclass
class SystemCounts:
    """What happened to records of one entity (or all) in one system during a run."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deferred: int = 0
    rejected: int = 0
    conflicts: int = 0
    deleted: int = 0
    # Records whose text `illegal_characters: strip` cleaned: captured (canonical) or written.
    stripped: int = 0

    def add(self, other: SystemCounts) -> None:
        """Add ``other``'s counts to these."""
        for counter in fields(self):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))


@dataclass
class RunSummary:
    """The outcome of one run."""

    run_id: int
    flow: str
    status: RunStatus = RunStatus.RUNNING
    by_entity: dict[str, dict[str, SystemCounts]] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    pages: int = 0
    error_queue_active: int = 0
    message: str | None = None
    expected: dict[str, int] = field(default_factory=dict)  # entity -> records the read said

    def counts(self, entity: str, system: str) -> SystemCounts:
        """The counters of ``entity`` in ``system``, created on first use."""
        return self.by_entity.setdefault(entity, {}).setdefault(system, SystemCounts())

    @property
    def systems(self) -> dict[str, SystemCounts]:
        """Counts per system, over all entities."""
        totals: dict[str, SystemCounts] = {}
        for per_system in self.by_entity.values():
            for system, counts in per_system.items():
                totals.setdefault(system, SystemCounts()).add(counts)
        return totals

    @property
    def written(self) -> int:
        """Records created or updated in downstream systems (not the canonical store)."""
        return sum(
            counts.created + counts.updated
            for name, counts in self.systems.items()
            if name != CANONICAL
        )

    @property
    def rejected(self) -> int:
        """Records rejected anywhere in the run."""
        return sum(counts.rejected for counts in self.systems.values())

    @property
    def deferred(self) -> int:
        """Records held back until a record they refer to is synced."""
        return sum(counts.deferred for counts in self.systems.values())

    @property
    def stripped(self) -> dict[str, dict[str, int]]:
        """Per entity and system, the records whose text was stripped of illegal characters
        (``canonical``: as captured; a target: in the payload written there)."""
        found: dict[str, dict[str, int]] = {}
        for entity, per_system in self.by_entity.items():
            for system, counts in per_system.items():
                if counts.stripped:
                    found.setdefault(entity, {})[system] = counts.stripped
        return found

    def to_json(self) -> dict[str, Any]:
        """The stored form (runs.stats)."""
        return {
            "pages": self.pages,
            "duration_seconds": round(self.duration_seconds, 3),
            "api_calls": self.api_calls,
            "systems": {name: asdict(counts) for name, counts in self.systems.items()},
            "entities": {
                entity: {system: asdict(counts) for system, counts in per_system.items()}
                for entity, per_system in self.by_entity.items()
            },
            "error_queue_active": self.error_queue_active,
            "stripped": self.stripped,
        }


def count_canonical_changes(
    captured: Sequence[CapturedRecord], stored_hashes: Mapping[str, str], counts: SystemCounts
) -> list[CapturedRecord]:
    """The records whose content differs from the stored version; counts each into ``counts``."""
    changed = []
    for record in captured:
        counts.stripped += bool(record.stripped)
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
