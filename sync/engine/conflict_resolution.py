"""Resolve held conflicts: record a choice per field, write the record once all are chosen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from connectors.base import Connector
from mappings.mapping_set import MappingSet
from sync.engine.conflicts import set_at
from sync.engine.specs import write_spec
from sync.store import Store
from sync.store.conflict_log import (
    ConflictFilter,
    ConflictRow,
    ConflictStatus,
    choose,
    list_conflicts,
    mark_resolved,
    open_for_record,
)
from sync.store.records import XrefEntry, save_xrefs, xref_entries

Side = Literal["source", "target"]


@dataclass
class Resolution:
    """What a resolve did: records written, records still waiting, rows that were not open."""

    written: list[str] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # canonical id -> fields still open
    rejected: dict[str, str] = field(default_factory=dict)  # canonical id -> target's message
    not_open: list[int] = field(default_factory=list)


def resolve_conflicts(
    store: Store,
    mapping_set: MappingSet,
    connectors: Mapping[str, Connector],
    ids: Sequence[int],
    side: Side,
) -> Resolution:
    """Choose ``side`` for the given open rows; write each record whose fields all have a choice."""
    outcome = Resolution()
    with store.transaction() as connection:
        rows = list_conflicts(connection, ConflictFilter(ids=tuple(ids)), limit=None)
        open_rows = [row for row in rows if row.status == ConflictStatus.OPEN.value]
        outcome.not_open = sorted(set(ids) - {row.id for row in open_rows})
        choose(connection, [row.id for row in open_rows], side)
    for system, canonical_id in sorted({(r.target_system, r.canonical_id) for r in open_rows}):
        with store.engine.connect() as connection:
            record_rows = open_for_record(connection, system, canonical_id)
        undecided = [row for row in record_rows if row.resolution is None]
        if undecided:
            outcome.waiting[canonical_id] = len(undecided)
            continue
        problem = _write_record(store, mapping_set, connectors[system], record_rows)
        if problem:
            outcome.rejected[canonical_id] = problem
        else:
            outcome.written.append(canonical_id)
    return outcome


def _write_record(
    store: Store, mapping_set: MappingSet, connector: Connector, rows: Sequence[ConflictRow]
) -> str | None:
    """Write the held payload with each field's chosen value; None when it landed."""
    newest = max(rows, key=lambda row: row.id)
    held = newest.held_payload or {}
    payload = dict(held.get("payload") or {})
    for row in rows:
        chosen = row.target_value if row.resolution == "target" else row.source_value
        payload = set_at(payload, row.field, chosen)
    target = mapping_set.system(newest.target_system).entities[newest.entity]
    with store.engine.connect() as connection:
        prior = xref_entries(connection, target.system, [newest.canonical_id]).get(
            newest.canonical_id
        )
    known = {newest.canonical_id: prior.external_id} if prior else {}
    (result,) = connector.write(write_spec(target, known), [payload])
    if not result.ok:
        return f"{result.error_code}: {result.error_message}"
    source_payload = held.get("source_payload")
    entry = XrefEntry(
        system=target.system,
        canonical_id=newest.canonical_id,
        entity=target.entity,
        object_name=target.object_name,
        external_id=result.target_id or (prior.external_id if prior else newest.canonical_id),
        last_written_hash=held.get("payload_hash"),
        last_written_payload=payload,
        last_source_payload=source_payload if source_payload != payload else None,
    )
    with store.transaction() as connection:
        save_xrefs(connection, [entry], newest.run_id or 0)
        mark_resolved(connection, [row.id for row in rows])
    return None
