"""Before updating target records, fetch them, find conflicts, apply the policies, log them.

Only records revbridge wrote before (an xref with the payload it last wrote) are checked; a
first write has nothing to conflict with. A connector names how its ``fetch`` finds records in
an optional ``fetch_key``: ``"target_id"`` (the id the target gave back, the default),
``"external_id"`` (revbridge's external id: the generic billing API) or ``None`` (it cannot
fetch: no detection for that target).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from config.settings import ConflictSettings
from connectors.base import Connector, RawRecord, ReadSpec
from mappings.mapping_set import EntityMapping
from sync.engine.conflicts import (
    Decision,
    FieldConflict,
    Sides,
    Verdict,
    apply_decisions,
    carried_values,
    flatten,
    json_ready,
    review,
    set_at,
)
from sync.engine.pending import PendingWrite
from sync.store import Store
from sync.store.conflict_log import ConflictEntry, ConflictStatus, log_conflicts, supersede_open

log = logging.getLogger("revbridge.conflicts")


@dataclass
class GuardResult:
    """The writes that go ahead (some with target values kept) and what the review found."""

    pending: list[PendingWrite] = field(default_factory=list)
    conflicts: int = 0  # conflicting fields, one conflict-log row each
    held: int = 0  # records held for `revbridge conflicts resolve`


class ConflictGuard:
    """Reviews one run's pending target updates against the targets' current records."""

    def __init__(self, store: Store, settings: ConflictSettings, run_id: int | None) -> None:
        self._store = store
        self._settings = settings
        self._run_id = run_id

    def review(
        self, target: EntityMapping, pending: Sequence[PendingWrite], connector: Connector
    ) -> GuardResult:
        """Decide each conflicting record; held ones are left out of ``pending``."""
        fetch_key = getattr(connector, "fetch_key", "target_id")
        checked = [item for item in pending if _has_base(item)]
        if not self._settings.detect or fetch_key is None or not checked:
            return GuardResult(pending=list(pending))
        current = self._fetch(target, checked, connector, fetch_key)
        result = GuardResult()
        entries: list[ConflictEntry] = []
        for item in pending:
            record = current.get(_lookup_id(target, item, fetch_key)) if _has_base(item) else None
            if record is None:
                result.pending.append(item)
                continue
            sides = self._sides(target, item, record)
            verdict = review(self._settings, target.entity, sides)
            decided = _decided(item, carried_values(sides), verdict.conflicts)
            entries += _entries(target, decided, verdict)
            result.conflicts += len(verdict.conflicts)
            if verdict.held:
                result.held += 1
            else:
                result.pending.append(decided)
        with self._store.transaction() as connection:
            # A record seen again is reviewed afresh: its older open rows give way to new ones.
            supersede_open(connection, target.system, [i.captured.record.id for i in checked])
            log_conflicts(connection, entries, self._run_id)
        if entries:
            log.info("%d conflicts in %s %s", len(entries), target.system, target.entity)
        return result

    def _fetch(
        self,
        target: EntityMapping,
        items: Sequence[PendingWrite],
        connector: Connector,
        fetch_key: str,
    ) -> dict[str, RawRecord]:
        key = _key_field(target, fetch_key)
        modified = self._settings.modified_fields.get(target.system)
        paths = {path for item in items for path in flatten(item.payload)}
        names = sorted({key, *([modified] if modified else []), *paths})
        spec = ReadSpec(object_name=target.object_name, fields=tuple(names), key_field=key)
        ids = [_lookup_id(target, item, fetch_key) for item in items]
        return {str(record.get(key)): record for record in connector.fetch(spec, ids)}

    def _sides(self, target: EntityMapping, item: PendingWrite, record: RawRecord) -> Sides:
        prior = item.prior
        assert prior is not None
        assert prior.last_written_payload is not None
        modified = self._settings.modified_fields.get(target.system)
        return Sides(
            written=prior.last_written_payload,
            source_base=prior.last_source_payload or prior.last_written_payload,
            source=json_ready(item.payload),
            target=record,
            source_modified=item.captured.record.source_modified_at,
            target_modified=_timestamp(record.get(modified)) if modified else None,
        )


def _has_base(item: PendingWrite) -> bool:
    return item.prior is not None and item.prior.last_written_payload is not None


def _key_field(target: EntityMapping, fetch_key: str) -> str:
    if fetch_key == "external_id" and target.external_id_field:
        return target.external_id_field
    return target.key_field


def _lookup_id(target: EntityMapping, item: PendingWrite, fetch_key: str) -> str:
    if fetch_key == "external_id" and target.external_id_field:
        return str(item.payload.get(target.external_id_field) or item.captured.record.id)
    assert item.prior is not None
    return item.prior.external_id


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, str) and value:
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _decided(
    item: PendingWrite, carried: Mapping[str, Any], conflicts: Iterable[FieldConflict]
) -> PendingWrite:
    """The write with target values put back: kept earlier (``carried``) or winning now."""
    kept = [conflict for conflict in conflicts if conflict.decision is Decision.TARGET]
    if not kept and not carried:
        return item
    payload = dict(item.payload)
    for path, value in carried.items():
        payload = set_at(payload, path, value)
    payload = apply_decisions(payload, kept)
    return replace(item, payload=payload, source_payload=json_ready(item.payload))


def _entries(target: EntityMapping, item: PendingWrite, verdict: Verdict) -> list[ConflictEntry]:
    held = None
    if verdict.held:
        # ``item`` already carries the decided fields; the held ones get the source's value.
        held = {
            "payload": json_ready(item.payload),
            "source_payload": item.source_payload or json_ready(item.payload),
            "payload_hash": item.payload_hash,
        }
    status = ConflictStatus.OPEN if verdict.held else ConflictStatus.DECIDED
    record = item.captured.record
    return [
        ConflictEntry(
            entity=target.entity,
            canonical_id=record.id,
            target_system=target.system,
            field=conflict.field,
            base_value=conflict.base,
            source_value=conflict.source,
            target_value=conflict.target,
            policy=conflict.policy.value,
            decision=conflict.decision.value,
            source_system=record.source.system,
            source_id=record.source.id,
            status=status if conflict.decision is Decision.HELD else ConflictStatus.DECIDED,
            held_payload=held if conflict.decision is Decision.HELD else None,
        )
        for conflict in verdict.conflicts
    ]
