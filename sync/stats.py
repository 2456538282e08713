"""Counts of one run, per system, as shown in the run table and stored with the run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sync.store.schema import RunStatus

CANONICAL = "canonical"  # the row of the canonical store in a run's counts


@dataclass
class SystemCounts:
    """What happened to records in one system during a run."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass
class RunSummary:
    """The outcome of one run."""

    run_id: int
    flow: str
    status: RunStatus = RunStatus.RUNNING
    systems: dict[str, SystemCounts] = field(default_factory=dict)
    pages: int = 0
    error_queue_active: int = 0
    message: str | None = None

    def counts(self, system: str) -> SystemCounts:
        """The counters of ``system``, created on first use."""
        return self.systems.setdefault(system, SystemCounts())

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

    def to_json(self) -> dict[str, Any]:
        """The stored form (runs.stats)."""
        return {
            "pages": self.pages,
            "systems": {name: asdict(counts) for name, counts in self.systems.items()},
            "error_queue_active": self.error_queue_active,
        }
