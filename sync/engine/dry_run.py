"""``run --dry-run`` and ``backfill --dry-run``: the real engine, with writes recorded, not sent.

The plan comes from a run of the same engine (same cursors, change detection, mapping
fingerprints, delete policies, deferral and end-of-run retry) against a scratch copy of the
store (:mod:`sync.store.snapshot`) and connectors that record each upsert and delete instead
of sending it (:mod:`sync.engine.recording`). Nothing is written to any system or to the
store. Children are planned as the run would write them: after their parents, which in the
plan have landed. What a target itself would refuse (its own validation, a locked record)
cannot be known without sending, so a plan can only promise what revbridge would send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from config.settings import Settings
from connectors.base import Connector
from mappings.mapping_set import MappingSet
from sync.engine.backfill import BackfillWindow
from sync.engine.connections import open_connectors
from sync.engine.factory import build_engine
from sync.engine.flows import Flow
from sync.engine.recording import RecordedDelete, RecordedWrite, RecordingConnector
from sync.engine.stats import RunSummary
from sync.store.database import create_store_engine
from sync.store.error_queue import ErrorFilter, list_errors
from sync.store.records import XrefEntry, source_ids_of, xref_entries
from sync.store.schema import ErrorStatus, RunStatus
from sync.store.snapshot import scratch_copy, store_exists

FieldDiff = tuple[str, Any, Any]  # field path, current value downstream, planned value
OpenConnectors = Callable[[Settings], AbstractContextManager[Mapping[str, Connector]]]
PLAN_NOTE = (
    "planned as the run would write them: parents first, then the children that refer to "
    "them, as if each parent had landed"
)


@dataclass
class PlannedWrite:
    """One upsert a run would make."""

    entity: str
    system: str
    source_id: str
    canonical_id: str
    action: str  # create | update
    diffs: list[FieldDiff] = field(default_factory=list)


@dataclass(frozen=True)
class PlannedDelete:
    """One downstream delete a run would make (the ``propagate`` delete policy)."""

    entity: str
    system: str
    source_id: str
    canonical_id: str
    target_id: str


@dataclass
class DryRunPlan:
    """Everything a run would do, per entity and target."""

    writes: list[PlannedWrite] = field(default_factory=list)
    unchanged: dict[tuple[str, str], int] = field(default_factory=dict)
    held: list[tuple[str, str, str, str]] = field(default_factory=list)  # entity, system, id, why
    read: dict[str, int] = field(default_factory=dict)
    deletes: list[PlannedDelete] = field(default_factory=list)
    status: RunStatus = RunStatus.SUCCEEDED
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The plan for ``--json``: the same numbers the tables show."""
        return {
            "status": self.status.value,
            "message": self.message,
            "note": PLAN_NOTE,
            "read": self.read,
            "writes": [vars(write) for write in self.writes],
            "unchanged": [[e, s, n] for (e, s), n in sorted(self.unchanged.items())],
            "held": self.held,
            "deletes": [vars(delete) for delete in self.deletes],
        }


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def field_diffs(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[FieldDiff]:
    """Leaf-level differences between two payloads (``before`` None: everything is new)."""
    old = dict(_flatten(before or {}))
    new = dict(_flatten(after))
    return [(path, old.get(path), new.get(path)) for path in sorted(old.keys() | new.keys())
            if old.get(path) != new.get(path)]  # fmt: skip


def plan_run(
    settings: Settings,
    mapping_set: MappingSet,
    flow: Flow,
    *,
    window: BackfillWindow | None = None,
    connect: OpenConnectors = open_connectors,
) -> DryRunPlan:
    """What a run (or, with ``window``, a backfill) of ``flow`` would do; writes nothing."""
    with scratch_copy(settings.database_url) as scratch, connect(settings) as connectors:
        recorders = {system: RecordingConnector(c) for system, c in connectors.items()}
        engine = build_engine(settings, scratch, mapping_set, recorders, flow, window=window)
        summary = engine.run()
        with scratch.engine.connect() as connection:
            held = _held(connection, summary.run_id)
            writes = [w for r in recorders.values() for w in r.writes]
            deletes = [d for r in recorders.values() for d in r.deletes]
            ids = {w.external_id for w in writes} | {d.external_id or "" for d in deletes}
            source_ids = source_ids_of(connection, ids - {""})
    entities = _entities_by_object(mapping_set, flow)
    previous = _previous_payloads(settings.database_url, writes)
    plan = DryRunPlan(held=held, status=summary.status, message=summary.message)
    _count(plan, summary, flow)
    for write in writes:
        before = previous.get((write.system, write.external_id))
        plan.writes.append(PlannedWrite(
            entity=entities.get((write.system, write.object_name), write.object_name),
            system=write.system,
            source_id=source_ids.get(write.external_id, ""),
            canonical_id=write.external_id,
            action="update" if write.known_target_id is not None else "create",
            diffs=field_diffs(before.last_written_payload if before else None, write.payload),
        ))  # fmt: skip
    plan.deletes = [_planned_delete(d, entities, source_ids) for d in deletes]
    return plan


def _count(plan: DryRunPlan, summary: RunSummary, flow: Flow) -> None:
    for entity, systems in summary.by_entity.items():
        for system, counts in systems.items():
            if system == flow.source:
                plan.read[entity] = counts.read
            elif system in flow.targets:
                plan.unchanged[(entity, system)] = counts.unchanged


def _planned_delete(
    delete: RecordedDelete, entities: Mapping[tuple[str, str], str], source_ids: Mapping[str, str]
) -> PlannedDelete:
    canonical_id = delete.external_id or ""
    return PlannedDelete(
        entities.get((delete.system, delete.object_name), delete.object_name),
        delete.system, source_ids.get(canonical_id, ""), canonical_id, delete.target_id,
    )  # fmt: skip


def _entities_by_object(mapping_set: MappingSet, flow: Flow) -> dict[tuple[str, str], str]:
    """(target system, object) -> canonical entity, for the flow's targets."""
    return {
        (target.system, target.object_name): target.entity
        for source in mapping_set.source_entities(flow.source)
        for target in mapping_set.targets_for(source.entity, flow.source)
        if target.system in flow.targets
    }


def _held(connection: sa.Connection, run_id: int) -> list[tuple[str, str, str, str]]:
    """Records the planned run would leave in the error queue (deferred ones included)."""
    active = (ErrorStatus.OPEN, ErrorStatus.RETRYING)
    entries = list_errors(connection, limit=None, where=ErrorFilter(run_id=run_id))
    return [(e.entity, e.target_system or e.source_system, e.source_id, f"{e.stage}: {e.message}")
            for e in reversed(entries) if e.status in active]  # fmt: skip


def _previous_payloads(
    database_url: str, writes: Iterable[RecordedWrite]
) -> dict[tuple[str, str], XrefEntry]:
    """What revbridge last wrote for each planned update, read from the real store."""
    updates: dict[str, list[str]] = {}
    for write in writes:
        if write.known_target_id is not None:
            updates.setdefault(write.system, []).append(write.external_id)
    if not updates or not store_exists(database_url):
        return {}
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                (system, canonical_id): entry
                for system, ids in updates.items()
                for canonical_id, entry in xref_entries(connection, system, ids).items()
            }
    finally:
        engine.dispose()
