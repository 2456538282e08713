"""Reference resolution through the xref table: a bounded cache of hits, prefetched per page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from itertools import islice
from typing import Any

import sqlalchemy as sa

from connectors.base import RawRecord
from mappings.mapping_set import EntityMapping, RefResolver
from sync.store.records import canonical_ids_for, xref_entries

Key = tuple[str, str, str]
# Ids per IN (...) query: well under SQLite's bound-parameter limit, small enough for PostgreSQL.
_QUERY_CHUNK = 1000


class RecentCache:
    """The most recently used entries, about ``size`` of them (two generations of dicts).

    A run of a million records must not keep a million ids: the current generation takes new
    and used entries; once full it becomes the old one and the entries nobody used since go.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._current: dict[Key, str] = {}
        self._old: dict[Key, str] = {}

    def get(self, key: Key) -> str | None:
        """The cached value, or None."""
        value = self._current.get(key)
        if value is None:
            value = self._old.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: Key, value: str) -> None:
        """Cache ``value`` under ``key``."""
        if len(self._current) >= self._size:
            self._old, self._current = self._current, {}
        self._current[key] = value

    def pop(self, key: Key) -> str | None:
        """Remove ``key`` from both generations; its value, or None."""
        old = self._old.pop(key, None)
        return self._current.pop(key, old)

    def __len__(self) -> int:
        return len(self._current) + len(self._old)


class StoreRefResolver:
    """Answers the mappings' ref lookups from the store.

    Only hits are cached: a miss may become a hit later in the run (a parent written to a
    target by an earlier entity), and hits never change within a run. While a page is
    captured, the ids it refers to are fetched in one query per entity beforehand
    (:meth:`prefetched`), and the ones found missing then are not asked for again.
    """

    def __init__(self, engine: sa.Engine, cache_size: int = 50_000) -> None:
        self._engine = engine
        self._inbound = RecentCache(cache_size)
        self._outbound = RecentCache(cache_size)
        self._absent: set[Key] = set()  # inbound keys found missing by the current prefetch
        # The current prefetch's hits: a page's lookups answered by one dict, no cache layer.
        self._page: dict[Key, str] = {}

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """That system's id -> canonical id, or None when the record was never captured."""
        key = (entity, system, system_id)
        found = self._page.get(key)
        if found is not None:
            return found
        found = self._inbound.get(key)
        if found is not None or key in self._absent:
            return found
        with self._engine.connect() as connection:
            rows = canonical_ids_for(connection, system, entity, [system_id])
        found = rows.get(system_id)
        if found is not None:
            self._inbound.put(key, found)
        return found

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        """Canonical id -> that system's id, or None when not written there yet."""
        key = (entity, system, canonical_id)
        found = self._outbound.get(key)
        if found is not None:
            return found
        with self._engine.connect() as connection:
            entry = xref_entries(connection, system, [canonical_id]).get(canonical_id)
        if entry is None:
            return None
        self._outbound.put(key, entry.external_id)
        return entry.external_id

    def remember(self, entity: str, system: str, canonical_id: str, system_id: str) -> None:
        """Cache an xref the engine just wrote, in both directions."""
        self._outbound.put((entity, system, canonical_id), system_id)
        self._inbound.put((entity, system, system_id), canonical_id)
        self._absent.discard((entity, system, system_id))
        self._page.pop((entity, system, system_id), None)

    def forget(self, entity: str, system: str, canonical_id: str) -> None:
        """Drop a cached xref: revbridge deleted the record in ``system``."""
        system_id = self._outbound.pop((entity, system, canonical_id))
        if system_id is not None:
            self._inbound.pop((entity, system, system_id))
            self._page.pop((entity, system, system_id), None)

    @contextmanager
    def prefetched(self, system: str, refs: Iterable[tuple[str, Any]]) -> Iterator[None]:
        """Within the block, ``refs`` (entity, id in ``system``) are answered from memory.

        Ids found missing count as missing only inside the block: nothing is written to the
        store while a page is captured, but the page's commit may add them.
        """
        wanted: dict[str, set[str]] = {}
        page: dict[Key, str] = {}
        # A page names the same parents over and over: each is looked up once.
        for entity, system_id in {ref for ref in refs if isinstance(ref[1], str)}:
            key = (entity, system, system_id)
            found = self._inbound.get(key)
            if found is None:
                wanted.setdefault(entity, set()).add(system_id)
            else:
                page[key] = found
        self._absent = self._fetch_inbound(system, wanted, page)
        self._page = page
        try:
            yield
        finally:
            self._absent, self._page = set(), {}

    def _fetch_inbound(
        self, system: str, wanted: dict[str, set[str]], found_into: dict[Key, str]
    ) -> set[Key]:
        """Cache the canonical ids of ``wanted`` (entity -> ids), also in ``found_into``.

        Returns the keys not found.
        """
        absent: set[Key] = set()
        with self._engine.connect() as connection:
            for entity, ids in wanted.items():
                for chunk in _chunks(sorted(ids), _QUERY_CHUNK):
                    found = canonical_ids_for(connection, system, entity, chunk)
                    for system_id in chunk:
                        key = (entity, system, system_id)
                        if system_id in found:
                            self._inbound.put(key, found[system_id])
                            found_into[key] = found[system_id]
                        else:
                            absent.add(key)
        return absent


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def page_refs(
    mapping: EntityMapping, raw_records: Sequence[RawRecord], refs: RefResolver
) -> AbstractContextManager[None]:
    """A context in which ``refs`` answers the page's lookups from memory, when it can."""
    if isinstance(refs, StoreRefResolver):
        keys = (key for raw in raw_records for key in mapping.ref_keys(raw))
        return refs.prefetched(mapping.system, keys)
    return nullcontext()
