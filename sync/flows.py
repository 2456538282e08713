"""Flows: which system's records go where."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings


@dataclass(frozen=True)
class Flow:
    """Records captured in ``source`` and kept in step in each of ``targets``."""

    name: str
    source: str
    targets: tuple[str, ...]
    entities: tuple[str, ...] | None = None  # None: every entity the source is system of record for

    def includes(self, entity: str) -> bool:
        """True when the flow carries ``entity``."""
        return self.entities is None or entity in self.entities


QUOTE_TO_CASH = Flow(name="quote-to-cash", source="salesforce", targets=("billing", "erp"))


def flows_from_settings(settings: Settings) -> dict[str, Flow]:
    """The configured flows by name."""
    return {
        flow.name: Flow(
            name=flow.name,
            source=flow.source,
            targets=tuple(flow.targets),
            entities=tuple(flow.entities) if flow.entities is not None else None,
        )
        for flow in settings.flows
    }
