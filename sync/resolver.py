"""Reference resolution through the xref table, with a per-run cache of hits."""

from __future__ import annotations

import sqlalchemy as sa

from sync.store.records import canonical_ids_for, xref_entries


class StoreRefResolver:
    """Answers the mappings' ref lookups from the store.

    Only hits are cached: a miss may become a hit later in the run (a parent written to a
    target by an earlier entity), and hits never change within a run.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._inbound: dict[tuple[str, str, str], str] = {}
        self._outbound: dict[tuple[str, str, str], str] = {}

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """That system's id -> canonical id, or None when the record was never captured."""
        key = (entity, system, system_id)
        if key not in self._inbound:
            with self._engine.connect() as connection:
                found = canonical_ids_for(connection, system, entity, [system_id])
            if system_id not in found:
                return None
            self._inbound[key] = found[system_id]
        return self._inbound[key]

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        """Canonical id -> that system's id, or None when not written there yet."""
        key = (entity, system, canonical_id)
        if key not in self._outbound:
            with self._engine.connect() as connection:
                found = xref_entries(connection, system, [canonical_id])
            entry = found.get(canonical_id)
            if entry is None:
                return None
            self._outbound[key] = entry.external_id
        return self._outbound[key]

    def remember(self, entity: str, system: str, canonical_id: str, system_id: str) -> None:
        """Cache an xref the engine just wrote, in both directions."""
        self._outbound[(entity, system, canonical_id)] = system_id
        self._inbound[(entity, system, system_id)] = canonical_id

    def forget(self, entity: str, system: str, canonical_id: str) -> None:
        """Drop a cached xref: revbridge deleted the record in ``system``."""
        system_id = self._outbound.pop((entity, system, canonical_id), None)
        if system_id is not None:
            self._inbound.pop((entity, system, system_id), None)
