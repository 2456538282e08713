"""The store's ref resolver: one query per page's lookups, a bounded cache, no stale misses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from sync.engine.resolver import RecentCache, StoreRefResolver
from sync.store import Store
from sync.store.records import XrefEntry, save_xrefs


def _captured(store: Store, *source_ids: str) -> None:
    entries = [XrefEntry("salesforce", f"c-{i}", "account", "Account", i) for i in source_ids]
    with store.transaction() as connection:
        save_xrefs(connection, entries, run_id=1)


@contextmanager
def _queries(engine: sa.Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_prefetched_page_is_answered_with_one_query_and_the_same_answers(store: Store) -> None:
    _captured(store, *(f"001{n}" for n in range(30)))
    wanted = [("account", f"001{n}") for n in range(0, 40, 2)]  # 15 stored, 5 never captured
    resolver = StoreRefResolver(store.engine)

    with _queries(store.engine) as statements, resolver.prefetched("salesforce", wanted):
        answers = [resolver.canonical_id(e, "salesforce", i) for e, i in wanted]

    assert len(statements) == 1
    expected = StoreRefResolver(store.engine)
    assert answers == [expected.canonical_id(e, "salesforce", i) for e, i in wanted]
    assert answers[:15] == [f"c-001{n}" for n in range(0, 30, 2)]
    assert answers[15:] == [None] * 5


def test_a_miss_of_one_page_is_found_once_its_parent_is_committed(store: Store) -> None:
    resolver = StoreRefResolver(store.engine)
    with resolver.prefetched("salesforce", [("account", "001X")]):
        assert resolver.canonical_id("account", "salesforce", "001X") is None

    _captured(store, "001X")

    assert resolver.canonical_id("account", "salesforce", "001X") == "c-001X"


def test_the_cache_stays_bounded_and_keeps_what_is_used() -> None:
    cache = RecentCache(size=100)
    cache.put(("account", "salesforce", "hot"), "c-hot")
    for n in range(1000):
        cache.put(("account", "salesforce", str(n)), f"c-{n}")
        assert cache.get(("account", "salesforce", "hot")) == "c-hot"

    assert len(cache) <= 200
    assert cache.get(("account", "salesforce", "0")) is None
    assert cache.get(("account", "salesforce", "999")) == "c-999"
