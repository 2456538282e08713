"""Impact of a mapping change on the stored records, before anything is synced.

For every stored canonical record, build each target's payload with the old and with the new
mapping set and count the ones that differ. When the store kept the raw source record, it is
re-mapped with both sets first, so changes to source mappings show up too. Reads only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from mappings.errors import MappingError
from mappings.mapping_set import EntityMapping, MappingSet, RefResolver
from sync.engine.capture import CapturedRecord, capture_record
from sync.store.records import StoredRecord, iter_stored
from sync.tools.payload_values import FieldChange, field_changes, plain

CANONICAL = "canonical"  # the row of an entity's own canonical records
_FAILED = object()  # a mapping that fails on the record (unmapped value, unresolved ref...)


@dataclass(frozen=True)
class Sample:
    """One record whose output changes, with the fields that change."""

    record: str
    changes: tuple[FieldChange, ...]
    note: str = ""


@dataclass
class Impact:
    """For one entity and one target (or its canonical records): what the change would do."""

    entity: str
    system: str
    records: int = 0
    changed: int = 0
    unchanged: int = 0
    failing_old: int = 0
    failing_new: int = 0
    note: str = ""
    samples: list[Sample] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able summary (``--json``)."""
        return {
            "entity": self.entity,
            "system": self.system,
            "records": self.records,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "failing_old": self.failing_old,
            "failing_new": self.failing_new,
            "note": self.note,
            "samples": [
                {"record": s.record, "changes": [str(c) for c in s.changes], "note": s.note}
                for s in self.samples
            ],
        }


@dataclass(frozen=True)
class _Side:
    """One mapping set's view of an entity: its source mapping and its targets by system."""

    source: EntityMapping | None
    targets: dict[str, EntityMapping]


def _side(mappings: MappingSet, system: str, entity: str) -> _Side:
    mapping = mappings.systems.get(system)
    source = mapping.entities.get(entity) if mapping else None
    targets = {t.system: t for t in mappings.targets_for(entity, system)}
    return _Side(source if source and source.system_of_record else None, targets)


def _source_entities(mappings: MappingSet) -> Iterator[tuple[str, str]]:
    for system in mappings.systems:
        for mapping in mappings.source_entities(system):
            yield system, mapping.entity


def _canonical(side: _Side, row: StoredRecord, refs: RefResolver) -> Any:
    """The record as this side's source mapping captures it (the stored one without raw)."""
    if row.source_payload is None or side.source is None:
        return row.payload
    outcome = capture_record(side.source, row.source_payload, refs)
    return outcome.canonical_json if isinstance(outcome, CapturedRecord) else _FAILED


def _payload(target: EntityMapping | None, record: Any, refs: RefResolver) -> Any:
    """The target's payload; None without the target, ``_FAILED`` when mapping fails."""
    if target is None:
        return None
    if record is _FAILED:
        return _FAILED
    try:
        return target.from_canonical(record, refs)
    except MappingError:
        return _FAILED


def _tally(impact: Impact, label: str, outputs: tuple[Any, Any], samples: int) -> None:
    """Count one record; ``_FAILED`` marks a side whose mapping failed on it."""
    impact.records += 1
    impact.failing_old += outputs[0] is _FAILED
    impact.failing_new += outputs[1] is _FAILED
    old, new = (None if value is _FAILED else value for value in outputs)
    if plain(old) == plain(new):
        impact.unchanged += 1
        return
    impact.changed += 1
    if len(impact.samples) < samples:
        impact.samples.append(_sample(label, outputs))


def _sample(label: str, outputs: tuple[Any, Any]) -> Sample:
    old, new = outputs
    if old is _FAILED or new is _FAILED:
        which = "old" if old is _FAILED else "new"
        return Sample(label, (), f"the {which} mapping fails on this record")
    if old is None or new is None:
        return Sample(label, (), "written only with the " + ("new" if old is None else "old"))
    return Sample(label, tuple(field_changes(old, new)))


def _impacts_for(old: _Side, new: _Side, entity: str, source_system: str) -> dict[str, Impact]:
    impacts = {CANONICAL: Impact(entity, CANONICAL)}
    if old.source is None:
        impacts[CANONICAL].note = f"new source mapping in {source_system}"
    for system in sorted(old.targets.keys() | new.targets.keys()):
        impact = impacts[system] = Impact(entity, system)
        if system not in old.targets:
            impact.note = "new target: every record would be written"
        elif system not in new.targets:
            impact.note = "target removed: nothing more would be written"
    return impacts


def analyse_entity(
    connection: sa.Connection,
    entity: str,
    source_system: str,
    sets: tuple[MappingSet, MappingSet],
    refs: RefResolver,
    samples: int = 3,
) -> list[Impact]:
    """Per target of one entity, how many stored records' payloads the change would alter."""
    old, new = (_side(mappings, source_system, entity) for mappings in sets)
    impacts = _impacts_for(old, new, entity, source_system)
    without_raw = 0
    for batch in iter_stored(connection, entity):
        for row in batch:
            if row.source_system != source_system:
                continue
            without_raw += row.source_payload is None
            label = f"{row.source_object} {row.source_id}"
            before, after = _canonical(old, row, refs), _canonical(new, row, refs)
            _tally(impacts[CANONICAL], label, (before, after), samples)
            for system, impact in impacts.items():
                if system == CANONICAL:
                    continue
                payloads = (
                    _payload(old.targets.get(system), before, refs),
                    _payload(new.targets.get(system), after, refs),
                )
                _tally(impact, label, payloads, samples)
    if without_raw:
        impacts[CANONICAL].note = (
            f"{without_raw} stored without their source record: source-mapping changes "
            "don't show for them"
        )
    return list(impacts.values())


def analyse_impact(
    connection: sa.Connection,
    old: MappingSet,
    new: MappingSet,
    refs: RefResolver,
    samples: int = 3,
) -> list[Impact]:
    """Every source entity of either mapping set, analysed against the stored records."""
    entities = dict.fromkeys([*_source_entities(new), *_source_entities(old)])
    impacts: list[Impact] = []
    for system, entity in entities:
        impacts += analyse_entity(connection, entity, system, (old, new), refs, samples)
    return impacts
