"""The compiled mappings the sync engine runs: one per system and canonical entity."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class RefResolver(Protocol):
    """Translates ids between systems and canonical ids (the engine's xref table)."""

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """Inbound: that system's id -> canonical id; None when it isn't synced yet."""

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        """Outbound: canonical id -> that system's id; None when it isn't written there yet."""


ToCanonical = Callable[[Mapping[str, Any], RefResolver], dict[str, Any]]
FromCanonical = Callable[[Mapping[str, Any], RefResolver], dict[str, Any]]
# (referenced entity, its id in this system) for every inbound ref of a raw record.
RefKeys = Callable[[Mapping[str, Any]], list[tuple[str, Any]]]


@dataclass(frozen=True)
class ChildFields:
    """A child collection read with its parent (Salesforce child relationship) and its fields."""

    relationship: str
    fields: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class EntityMapping:
    """One canonical entity in one system, compiled: captures from it or writes to it.

    ``filter`` is the condition the connector adds to its query (SOQL ``Status != 'Draft'``);
    ``fingerprint`` changes whenever the entity's rules (or its child mappings') change.
    """

    entity: str
    system: str
    object_name: str
    key_field: str
    cursor_field: str | None
    external_id_field: str | None
    system_of_record: bool
    read_fields: tuple[str, ...]
    children: tuple[ChildFields, ...]
    refs: frozenset[str]
    filter: str | None
    fingerprint: str
    _to_canonical: ToCanonical | None = field(repr=False)
    _from_canonical: FromCanonical | None = field(repr=False)
    _ref_keys: RefKeys | None = field(default=None, repr=False)

    def to_canonical(self, raw: Mapping[str, Any], refs: RefResolver) -> dict[str, Any]:
        """A raw record of this system as a canonical dict, ready for model validation."""
        if self._to_canonical is None:
            raise TypeError(f"{self.system} is not the system of record for {self.entity}")
        return self._to_canonical(raw, refs)

    def from_canonical(self, record: Mapping[str, Any], refs: RefResolver) -> dict[str, Any]:
        """This system's payload for a canonical record given as ``model_dump(mode="json")``."""
        if self._from_canonical is None:
            raise TypeError(f"{self.system} {self.entity} is captured here, not written")
        return self._from_canonical(record, refs)

    def ref_keys(self, raw: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """(entity, id in this system) of each record a raw record refers to, children's too.

        The ids :meth:`to_canonical` will ask the resolver for, so a page's lookups can be
        fetched in one query; a value that fails to map is left out (it fails when mapped).
        """
        return self._ref_keys(raw) if self._ref_keys is not None else []

    def referenced_entities(self) -> frozenset[str]:
        """Canonical entities this mapping's refs point at, its children's included."""
        return self.refs


@dataclass(frozen=True)
class SystemMapping:
    """All entity mappings of one system, in file order."""

    name: str
    entities: dict[str, EntityMapping]


@dataclass(frozen=True)
class MappingSet:
    """Every system's mappings, validated and compiled together."""

    systems: dict[str, SystemMapping]

    def system(self, name: str) -> SystemMapping:
        """The mappings of one system; KeyError names the systems that exist."""
        try:
            return self.systems[name]
        except KeyError:
            raise KeyError(f"no mapping for system {name!r}; have {sorted(self.systems)}") from None

    def source_entities(self, system: str) -> list[EntityMapping]:
        """Entities captured from ``system`` and read on their own, parents first."""
        pending = [
            mapping
            for mapping in self.system(system).entities.values()
            if mapping.system_of_record and mapping.cursor_field is not None
        ]
        names = {mapping.entity for mapping in pending}
        ordered: list[EntityMapping] = []
        done: set[str] = set()
        while pending:
            # File order breaks ties, so runs are repeatable; the loader has ruled out cycles.
            ready = next((m for m in pending if (m.refs & names) - {m.entity} <= done), pending[0])
            ordered.append(ready)
            done.add(ready.entity)
            pending.remove(ready)
        return ordered

    def targets_for(self, entity: str, source_system: str) -> list[EntityMapping]:
        """The other systems' mappings of ``entity`` that write it there."""
        return [
            mapping.entities[entity]
            for name, mapping in self.systems.items()
            if name != source_system
            and entity in mapping.entities
            and not mapping.entities[entity].system_of_record
        ]
