"""What a deletion in the source does downstream, per entity: deactivate, propagate or ignore.

Deleting a customer, product or order in the ERP or billing system erases invoice and ledger
history, so revbridge hard-deletes downstream only when a flow asks for ``propagate``
(:mod:`sync.engine.propagate`); ``deactivate``, the default where the entity has such a state, sends
the record once more with its status set to the canonical "no longer active" value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from connectors.base import RawRecord
from mappings.canonical import model_for
from mappings.mapping_set import EntityMapping
from sync.engine.capture import CapturedRecord
from sync.engine.change import content_hash
from sync.engine.propagate import SourceDeletion
from sync.engine.resolver import StoreRefResolver
from sync.store import Store
from sync.store.records import load_payload, xref_entries

log = logging.getLogger("revbridge.sync")


class DeletePolicy(StrEnum):
    """How a source deletion of one entity is carried downstream."""

    DEACTIVATE = "deactivate"
    IGNORE = "ignore"
    PROPAGATE = "propagate"


# The canonical fields that say "gone" for each entity that has such a state.
DEACTIVATED: dict[str, dict[str, Any]] = {
    "account": {"status": "inactive"},
    "product": {"active": False},
    "price_book_entry": {"active": False},
    "order": {"status": "cancelled"},
    "contract": {"status": "terminated"},
    "subscription": {"status": "cancelled"},
    "invoice": {"status": "void"},
    "credit_memo": {"status": "void"},
}


def default_policy(entity: str) -> DeletePolicy:
    """Deactivate where the entity has an inactive state, else only record the deletion."""
    return DeletePolicy.DEACTIVATE if entity in DEACTIVATED else DeletePolicy.IGNORE


def deactivated(
    entity: str, source_id: str, stored: dict[str, Any], raw: dict[str, Any]
) -> CapturedRecord | None:
    """The stored canonical record with its inactive state set, or None if it has none."""
    patch = DEACTIVATED.get(entity)
    if patch is None:
        return None
    try:
        record = model_for(entity).model_validate({**stored, **patch})
    except ValidationError:
        return None
    canonical_json = record.model_dump(mode="json")
    return CapturedRecord(source_id, record, canonical_json, content_hash(record), raw)


def split_deleted(
    records: Sequence[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Live records and deleted ones, as a ``queryAll`` fetch returns them (``IsDeleted``)."""
    live = [record for record in records if record.get("IsDeleted") is not True]
    gone = [record for record in records if record.get("IsDeleted") is True]
    return live, gone


Deletions = tuple[list[str], list[CapturedRecord], list[SourceDeletion]]


def read_deletions(
    store: Store,
    mapping: EntityMapping,
    deleted: Sequence[RawRecord],
    resolver: StoreRefResolver,
    policy: DeletePolicy,
    target_systems: Sequence[str],
) -> Deletions:
    """Canonical ids of records deleted at the source, their deactivated versions and the
    deletions to propagate to the targets.

    A deactivation only updates what a target still has: a record no target holds (revbridge
    deleted it there under ``propagate``, or it never landed) is not sent again as cancelled,
    so a re-read of old deletions (a reset cursor, another policy) cannot bring it back. Only
    the source's own undelete does: the record then comes back live and is created anew.
    """
    deleted_ids: list[str] = []
    deactivated_records: list[CapturedRecord] = []
    doomed: list[SourceDeletion] = []
    for raw in deleted:
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
        with store.engine.connect() as connection:
            held = [s for s in target_systems if xref_entries(connection, s, [canonical_id])]
            stored = load_payload(connection, canonical_id) if held else None
        patched = deactivated(mapping.entity, source_id, stored, raw) if stored else None
        if patched is not None:
            deactivated_records.append(patched)
    return deleted_ids, deactivated_records, doomed
