"""Child records written after their parents, since sObject Collections can't nest children.

A payload may carry a child relationship (``blng__InvoiceInvoiceLines__r: [line, ...]``, from
an outbound ``each`` in the mapping). The writer splits those lists off, upserts the parents,
then upserts the children of the parents that landed, each pointing at its parent through the
parent's external id (``blng__Invoice__r: {Revbridge_Id__c: ...}``), so no parent id is needed.
Children upsert on the same external id field name as their parent. A rejected child rejects
its parent's result: the error queue holds the parent with the child's reason, and a retry
re-sends the parent with all its children (upserts by external id are idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.base import ChildSpec, ReadSpec, WriteOutcome, WriteResult
from connectors.errors import ConfigError
from connectors.salesforce.describe import DescribeCache, ObjectInfo
from connectors.salesforce.login import SYSTEM


@dataclass
class ChildBatch:
    """The children of one relationship across a batch, with their parents' positions."""

    relationship: str
    child_object: str
    parent_field: str
    parents: list[int] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)


def split_children(
    info: ObjectInfo, payloads: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[ChildBatch]]:
    """Payloads without their child lists, and those lists grouped by relationship."""
    parents: list[dict[str, Any]] = []
    batches: dict[str, ChildBatch] = {}
    for position, payload in enumerate(payloads):
        parent: dict[str, Any] = {}
        for name, value in payload.items():
            relationship = info.child(name) if isinstance(value, list) else None
            if relationship is None:
                parent[name] = value
                continue
            batch = batches.setdefault(
                relationship.name,
                ChildBatch(relationship.name, relationship.child_object, relationship.field),
            )
            for child in value:
                batch.parents.append(position)
                batch.payloads.append(dict(child))
        parents.append(parent)
    return parents, list(batches.values())


def parent_lookup(child: ObjectInfo, batch: ChildBatch) -> str:
    """The child's relationship name that points at the parent (``blng__Invoice__r``)."""
    found = child.field(batch.parent_field)
    if found is None or not found.relationship_name:
        raise ConfigError(
            f"{child.name}.{batch.parent_field} (of {batch.relationship}) has no relationship "
            "name in describe, so its parent can't be set by external id",
            system=SYSTEM,
        )
    return found.relationship_name


def reject_parents(
    results: list[WriteResult],
    batch: ChildBatch,
    sent: Sequence[int],
    answers: Sequence[WriteResult],
) -> list[WriteResult]:
    """``results`` with each parent whose child was rejected turned into a rejection."""
    updated = list(results)
    for position, answer in zip(sent, answers, strict=True):
        parent = updated[position]
        if answer.ok or not parent.ok:
            continue  # the first rejected child names the reason
        updated[position] = WriteResult(
            external_id=parent.external_id,
            outcome=WriteOutcome.REJECTED,
            target_id=parent.target_id,
            error_code=answer.error_code,
            error_message=(f"{batch.relationship} {answer.external_id}: {answer.error_message}"),
            error_fields=answer.error_fields,
        )
    return updated


def with_child_reads(describe: DescribeCache, spec: ReadSpec) -> ReadSpec:
    """``spec`` with child relationship names among its fields read as subqueries.

    Conflict checks fetch what revbridge last wrote, lines included; a child list comes back
    with the child's writable fields, in the order the org returns them.
    """
    info = describe.info(spec.object_name)
    found = [(name, info.child(name)) for name in spec.fields]
    children = [child for _, child in found if child is not None]
    if not children:
        return spec
    subqueries = tuple(
        ChildSpec(child.name, describe.info(child.child_object).writable_fields())
        for child in children
    )
    return replace(
        spec,
        fields=tuple(name for name, child in found if child is None),
        children=(*spec.children, *subqueries),
    )
