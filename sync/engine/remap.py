"""Mapping changes between runs: which entities to re-read and which targets to re-send.

A run compares each mapping's fingerprint with the one the flow last completed a run with.
A changed source mapping re-reads that entity from the start (unchanged records cost a hash);
a changed target mapping re-delivers the stored canonical records to that target, and only
those whose payload now differs are written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from mappings.canonical import model_for
from mappings.mapping_set import EntityMapping
from sync.engine.capture import CapturedRecord
from sync.store import Store
from sync.store.fingerprints import load_fingerprints
from sync.store.records import StoredRecord

log = logging.getLogger("revbridge.sync")

FingerprintKey = tuple[str, str]


@dataclass(frozen=True)
class MappingChanges:
    """Fingerprints the flow last completed with, and the ones this run uses."""

    previous: dict[FingerprintKey, str]
    current: dict[FingerprintKey, str]

    def _changed(self, mapping: EntityMapping) -> bool:
        key = (mapping.system, mapping.entity)
        # Never seen before: nothing was captured or delivered with an older version.
        return key in self.previous and self.previous[key] != self.current.get(key)

    def capture_changed(self, source: EntityMapping) -> bool:
        """True when the source mapping of an entity differs from the last completed run's."""
        return self._changed(source)

    def delivery_changed(self, source: EntityMapping, target: EntityMapping) -> bool:
        """True when ``target``'s mapping of the entity changed since the last completed run."""
        return source.entity == target.entity and self._changed(target)


def detect_changes(
    store: Store,
    flow: str,
    sources: Sequence[EntityMapping],
    targets_of: Callable[[str], list[EntityMapping]],
) -> MappingChanges:
    """Compare this run's mapping fingerprints with the stored ones."""
    current: dict[FingerprintKey, str] = {}
    for source in sources:
        for mapping in (source, *targets_of(source.entity)):
            current[(mapping.system, mapping.entity)] = mapping.fingerprint
    with store.engine.connect() as connection:
        previous = load_fingerprints(connection, flow)
    return MappingChanges(previous=previous, current=current)


def recaptured_from_store(stored: Sequence[StoredRecord]) -> list[CapturedRecord]:
    """Stored canonical records as captured records, ready to deliver again."""
    captured = []
    for row in stored:
        try:
            record = model_for(row.entity).model_validate(row.payload)
        except ValidationError as error:
            # The canonical model itself changed under the stored payload: re-reading the
            # source (a source mapping change) is what repairs such a record.
            log.warning("stored %s %s no longer validates: %s", row.entity, row.canonical_id, error)
            continue
        captured.append(
            CapturedRecord(row.source_id, record, row.payload, row.content_hash, row.source_payload)
        )
    return captured
