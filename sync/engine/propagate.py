"""The ``propagate`` delete policy: a record deleted at the source is deleted in each target.

Only targets where revbridge's xref knows the record are asked, by the target's own id, in one
batched call per target. A record a target no longer has counts as deleted, so a run killed
between the downstream deletes and the page commit replays them harmlessly. A target's refusal
goes to the error queue (stage ``write``) while the other records and targets proceed; the
xref entries of deleted records are dropped in the page's commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from connectors.base import Connector, DeleteOutcome, DeleteResult
from connectors.errors import ConnectorError
from mappings.mapping_set import EntityMapping
from sync.engine.specs import write_spec
from sync.engine.stats import RunSummary
from sync.store.error_queue import QueuedError
from sync.store.records import XrefEntry, xref_entries
from sync.store.schema import ErrorStage

log = logging.getLogger("revbridge.sync")


@dataclass(frozen=True)
class SourceDeletion:
    """A record the source reports deleted, which revbridge had captured."""

    canonical_id: str
    source_id: str
    raw: Mapping[str, Any]


@dataclass
class DeleteDelivery:
    """What one target did with a page's deletions."""

    system: str
    entity: str
    object_name: str
    removed: list[str] = field(default_factory=list)  # canonical ids gone from the target
    failures: list[tuple[SourceDeletion, DeleteResult]] = field(default_factory=list)
    deleted: int = 0  # removed now, or found already gone

    @property
    def failed_source_ids(self) -> set[str]:
        """Source ids of the records this target refused to delete."""
        return {deletion.source_id for deletion, _ in self.failures}


def propagate_to_targets(
    targets: Sequence[EntityMapping],
    deletions: Sequence[SourceDeletion],
    connectors: Mapping[str, Connector],
    engine: sa.Engine,
    summary: RunSummary,
) -> list[DeleteDelivery]:
    """Delete ``deletions`` in every target that has them, counting deletions into ``summary``.

    Refusals are left for the caller to count: it knows which were already refused this run.
    """
    if not deletions:
        return []
    ids = [deletion.canonical_id for deletion in deletions]
    with engine.connect() as connection:
        written = {t.system: xref_entries(connection, t.system, ids) for t in targets}
    deliveries = []
    for target in targets:
        connector = connectors[target.system]
        delivery = propagate_deletes(target, deletions, connector, written[target.system])
        summary.counts(target.entity, target.system).deleted += delivery.deleted
        deliveries.append(delivery)
    return deliveries


def propagate_deletes(
    target: EntityMapping,
    deletions: Sequence[SourceDeletion],
    connector: Connector,
    written: Mapping[str, XrefEntry],
) -> DeleteDelivery:
    """Delete in ``target`` every record of ``deletions`` its xref (``written``) knows."""
    delivery = DeleteDelivery(target.system, target.entity, target.object_name)
    known = [(d, written[d.canonical_id]) for d in deletions if d.canonical_id in written]
    if not known:
        return delivery
    spec = write_spec(target, {d.canonical_id: entry.external_id for d, entry in known})
    results = connector.delete(spec, [entry.external_id for _, entry in known])
    if len(results) != len(known):
        raise ConnectorError(
            f"{target.system} answered {len(results)} results for {len(known)} deletions",
            system=target.system,
        )
    for (deletion, _), result in zip(known, results, strict=True):
        _apply(target, deletion, result, delivery)
    return delivery


def _apply(
    target: EntityMapping, deletion: SourceDeletion, result: DeleteResult, delivery: DeleteDelivery
) -> None:
    if not result.ok:
        delivery.failures.append((deletion, result))
        return
    delivery.deleted += 1
    delivery.removed.append(deletion.canonical_id)
    gone = (
        "was already gone from" if result.outcome is DeleteOutcome.ALREADY_DELETED else "deleted in"
    )
    log.info("%s %s %s %s (%s %s)", target.entity, deletion.source_id, gone, target.system,
             target.object_name, result.target_id)  # fmt: skip


def delete_errors(
    flow: str, source: EntityMapping, deliveries: Sequence[DeleteDelivery]
) -> list[QueuedError]:
    """One error-queue entry per refused deletion, naming the target and its id."""
    return [
        QueuedError(
            flow=flow,
            entity=source.entity,
            source_system=source.system,
            source_object=source.object_name,
            source_id=deletion.source_id,
            stage=ErrorStage.WRITE,
            error_class="RecordRejected",
            message=f"delete refused: {result.error_message or 'no message'}",
            payload={"delete": {"object": delivery.object_name, "target_id": result.target_id}},
            canonical_id=deletion.canonical_id,
            target_system=delivery.system,
            code=result.error_code,
        )
        for delivery in deliveries
        for deletion, result in delivery.failures
    ]
