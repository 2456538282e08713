"""Flows: which system's records go where."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from config.settings import Settings
from sync.engine.deletes import DeletePolicy, default_policy


@dataclass(frozen=True)
class Flow:
    """Records captured in ``source`` and kept in step in each of ``targets``."""

    name: str
    source: str
    targets: tuple[str, ...]
    entities: tuple[str, ...] | None = None  # None: every entity the source is system of record for
    deletes: Mapping[str, DeletePolicy] = field(default_factory=dict)  # entity -> policy

    def delete_policy(self, entity: str) -> DeletePolicy:
        """What a source deletion of ``entity`` does downstream."""
        return self.deletes.get(entity, default_policy(entity))

    def includes(self, entity: str) -> bool:
        """True when the flow carries ``entity``."""
        return self.entities is None or entity in self.entities


QUOTE_TO_CASH = Flow(name="quote-to-cash", source="salesforce", targets=("billing", "erp"))
# The ERP owns invoices, payments and credit memos; Salesforce Billing shows them to sales.
RECEIVABLES = Flow(name="receivables", source="erp", targets=("salesforce", "billing"))


def flows_from_settings(settings: Settings) -> dict[str, Flow]:
    """The configured flows by name."""
    return {
        flow.name: Flow(
            name=flow.name,
            source=flow.source,
            targets=tuple(flow.targets),
            entities=tuple(flow.entities) if flow.entities is not None else None,
            deletes={entity: DeletePolicy(policy) for entity, policy in flow.deletes.items()},
        )
        for flow in settings.flows
    }
