"""``revbridge run --dry-run``: what a run would create, update and delete, with field diffs;
no writes.

Reads the source from the committed cursors and builds every payload exactly as a run would,
but calls no write endpoint and changes nothing in the store. A record whose parent would only
be created by the same run shows as deferred (a real run creates the parent first).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.base import Connector, Cursor
from mappings.errors import MappingError
from mappings.mapping_set import EntityMapping, MappingSet, RefResolver
from sync.engine.backfill import BackfillWindow
from sync.engine.capture import capture_page
from sync.engine.deletes import DeletePolicy
from sync.engine.deliver import Delivery, PendingWrite, plan_delivery
from sync.engine.flows import Flow
from sync.engine.resolver import StoreRefResolver
from sync.engine.specs import read_spec
from sync.store import Store
from sync.store.cursors import load_cursor
from sync.store.records import load_payload, xref_entries

FieldDiff = tuple[str, Any, Any]  # field path, current value downstream, planned value


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


class DryRun:
    """Plans a run of one flow without writing anywhere."""

    def __init__(
        self,
        store: Store,
        mapping_set: MappingSet,
        connectors: Mapping[str, Connector],
        flow: Flow,
        *,
        page_size: int = 2000,
        window: BackfillWindow | None = None,
    ) -> None:
        self._store = store
        self._window = window
        self._mappings = mapping_set
        self._connectors = connectors
        self._flow = flow
        self._page_size = page_size

    def plan(self) -> DryRunPlan:
        """Read what changed and plan each target's upserts."""
        plan = DryRunPlan()
        resolver = StoreRefResolver(self._store.engine)
        for mapping in self._mappings.source_entities(self._flow.source):
            if self._flow.includes(mapping.entity):
                self._plan_entity(mapping, plan, resolver)
        return plan

    def _plan_entity(
        self, mapping: EntityMapping, plan: DryRunPlan, resolver: StoreRefResolver
    ) -> None:
        targets = [t for t in self._mappings.targets_for(mapping.entity, self._flow.source)
                   if t.system in self._flow.targets]  # fmt: skip
        spec = read_spec(mapping, self._page_size)
        if self._window is not None:
            cursor: Cursor | None = self._window.start_cursor
            spec = replace(spec, until=self._window.until_stamp)
        else:
            with self._store.engine.connect() as connection:
                cursor = load_cursor(connection, self._flow.name, mapping.system, mapping.entity)
        source = self._connectors[mapping.system]
        for page in source.read(spec, cursor):
            plan.read[mapping.entity] = plan.read.get(mapping.entity, 0) + len(page.records)
            self._plan_deletes(mapping, targets, page.deleted, plan, resolver)
            captured, failures = capture_page(mapping, page.records, resolver)
            for failure in failures:
                plan.held.append((mapping.entity, mapping.system, failure.source_id,
                                  f"{failure.stage.value}: {failure.message}"))  # fmt: skip
            ids = [record.record.id for record in captured]
            for target in targets:
                with self._store.engine.connect() as connection:
                    written = xref_entries(connection, target.system, ids)
                delivery = Delivery(system=target.system)
                pending = plan_delivery(target, captured, written, resolver, delivery)
                self._record(mapping.entity, target, pending, delivery, plan, resolver)

    def _plan_deletes(
        self,
        mapping: EntityMapping,
        targets: Sequence[EntityMapping],
        deleted: Sequence[Mapping[str, Any]],
        plan: DryRunPlan,
        resolver: StoreRefResolver,
    ) -> None:
        """The records a run would delete in each target that has them."""
        if not deleted or self._flow.delete_policy(mapping.entity) is not DeletePolicy.PROPAGATE:
            return
        found = {}
        for raw in deleted:
            source_id = str(raw.get(mapping.key_field, ""))
            canonical_id = resolver.canonical_id(mapping.entity, mapping.system, source_id)
            if canonical_id is not None:
                found[canonical_id] = source_id
        for target in targets:
            with self._store.engine.connect() as connection:
                written = xref_entries(connection, target.system, list(found))
            plan.deletes += [
                PlannedDelete(mapping.entity, target.system, found[cid], cid, entry.external_id)
                for cid, entry in written.items()
            ]

    def _record(
        self,
        entity: str,
        target: EntityMapping,
        pending: Sequence[PendingWrite],
        delivery: Delivery,
        plan: DryRunPlan,
        refs: RefResolver,
    ) -> None:
        key = (entity, target.system)
        plan.unchanged[key] = plan.unchanged.get(key, 0) + delivery.unchanged
        for failure in delivery.failures:
            plan.held.append((entity, target.system, failure.captured.source_id,
                              f"{failure.stage.value}: {failure.message}"))  # fmt: skip
        for item in pending:
            before = self._previous_payload(target, item, refs)
            plan.writes.append(
                PlannedWrite(
                    entity=entity,
                    system=target.system,
                    source_id=item.captured.source_id,
                    canonical_id=item.captured.record.id,
                    action="update" if item.prior is not None else "create",
                    diffs=field_diffs(before, item.payload),
                )
            )

    def _previous_payload(
        self, target: EntityMapping, item: PendingWrite, refs: RefResolver
    ) -> dict[str, Any] | None:
        """What the target holds now, rebuilt from the stored canonical record."""
        if item.prior is None:
            return None
        with self._store.engine.connect() as connection:
            stored = load_payload(connection, item.captured.record.id)
        if stored is None:
            return None
        try:
            return target.from_canonical(stored, refs)
        except MappingError:
            return None  # the stored record no longer maps; the diff then shows every field
