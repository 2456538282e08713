"""Pages big enough for PostgreSQL's COPY path store what SQLAlchemy's own upsert stores.

``upsert_rows`` sends a page of ``COPY_MIN_ROWS`` rows or more on PostgreSQL through COPY into a
staging table and one merge; these tests hold it to the row-by-row statement's results, hostile
values included, on both backends (SQLite keeps executemany and must agree all the same).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from sync.store import Store
from sync.store.schema import canonical_records, plain_json_text, xref
from sync.store.upsert import COPY_MIN_ROWS, upsert_rows

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=-5)))
PAGE = COPY_MIN_ROWS + 36
# What COPY's text format must escape, markup, line separators, and a huge value.
HOSTILE = ["tab\there", "line\nbreak\r\n", "back\\slash \\N", "<b>&amp;</b>", "é\u2028\u0085",
           "[red]x[/red]", "\\.", "x" * 200_000, "", "'; DROP TABLE xref; --"]  # fmt: skip


def _sqlalchemy_upsert(
    connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: list[str]
) -> None:
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    updates = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def _records(prefix: str, version: str, count: int = PAGE) -> list[dict[str, Any]]:
    def payload(n: int) -> Any:
        value = {"name": HOSTILE[n % len(HOSTILE)], "amount": Decimal("1.50"), "v": version,
                 "big": 10**20, "nested": {"none": None, "list": [1, None, True]}}  # fmt: skip
        return plain_json_text(value | {"amount": "1.50"}) if n % 2 else value

    return [
        {"canonical_id": f"{prefix}{n:04}", "entity": "account", "payload": payload(n),
         "content_hash": f"{version}-{n}", "source_system": "salesforce",
         "source_object": HOSTILE[(n + 3) % len(HOSTILE)][:80], "source_id": f"{prefix}{n}",
         "source_modified_at": WHEN + timedelta(seconds=n), "is_deleted": n % 3 == 0,
         "updated_at": WHEN, "run_id": n if n % 4 else None,
         "source_payload": None if n % 5 == 0 else {"Id": str(n), "Stamp": WHEN}}
        for n in range(count)
    ]  # fmt: skip


def _xrefs(prefix: str, version: str, count: int = PAGE) -> list[dict[str, Any]]:
    return [
        {"system": "billing", "canonical_id": f"{prefix}{n:04}", "entity": "account",
         "object_name": "customers", "external_id": f"{prefix}{n}{HOSTILE[n % len(HOSTILE)][:200]}",
         "last_written_hash": f"{version}-{n}" if n % 2 else None,
         "last_written_at": WHEN if n % 2 else None, "run_id": 3,
         "last_written_payload": {"n": n, "v": version} if n % 2 else None,
         "last_source_payload": None}
        for n in range(count)
    ]  # fmt: skip


def _stored(connection: sa.Connection, table: sa.Table, prefix: str) -> list[tuple[Any, ...]]:
    """Rows as the database returns them, ordered by key, ids unprefixed."""
    key = table.c.canonical_id
    query = sa.select(table).where(key.like(f"{prefix}%")).order_by(key)
    return [
        tuple(str(v).replace(prefix, "", 1) if isinstance(v, str) else v for v in row)
        for row in connection.execute(query)
    ]


def _staging_tables(connection: sa.Connection) -> int:
    """How many COPY staging tables this database session holds (0 on SQLite)."""
    if connection.dialect.name != "postgresql":
        return 0
    query = sa.text(
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'rb_stage_%' "
        "AND relnamespace = pg_my_temp_schema()"
    )
    return int(connection.execute(query).scalar_one())


@pytest.mark.parametrize(("table", "keys"), [
    (canonical_records, ["canonical_id"]), (xref, ["system", "canonical_id"]),
])  # fmt: skip
def test_a_copied_page_stores_what_sqlalchemy_stores(
    store: Store, table: sa.Table, keys: list[str]
) -> None:
    rows = _records if table is canonical_records else _xrefs
    for version in ("v1", "v2"):  # an insert, then an update of every non-key column
        with store.transaction() as connection:
            _sqlalchemy_upsert(connection, table, rows("old-", version), keys)
            upsert_rows(connection, table, rows("new-", version), keys)
            copied = _staging_tables(connection)
    with store.engine.connect() as connection:
        old, new = _stored(connection, table, "old-"), _stored(connection, table, "new-")
    assert new == old
    assert len(new) == PAGE
    assert "v2-1" in str(new)
    assert "v1-1" not in str(new)
    assert copied == (1 if store.engine.dialect.name == "postgresql" else 0)


def test_the_last_row_of_a_key_wins_as_row_by_row(store: Store) -> None:
    rows = _records("dup-", "v1")
    twice = [*rows, {**rows[5], "content_hash": "later"}, {**rows[7], "content_hash": "last"}]
    with store.transaction() as connection:
        upsert_rows(connection, canonical_records, twice, ["canonical_id"])
    hashes = sa.select(canonical_records.c.canonical_id, canonical_records.c.content_hash)
    with store.engine.connect() as connection:
        stored = {row.canonical_id: row.content_hash for row in connection.execute(hashes)}
    assert len(stored) == PAGE
    assert (stored["dup-0005"], stored["dup-0007"], stored["dup-0006"]) == ("later", "last", "v1-6")


def test_a_second_page_in_one_transaction_leaves_the_first_alone(store: Store) -> None:
    first, second = _records("a-", "v1"), _records("b-", "v1")
    changed = sa.update(canonical_records).where(canonical_records.c.canonical_id == "a-0001")
    with store.transaction() as connection:
        upsert_rows(connection, canonical_records, first, ["canonical_id"])
        connection.execute(changed.values(content_hash="changed in between"))
        upsert_rows(connection, canonical_records, second, ["canonical_id"])
    count = sa.select(sa.func.count()).select_from(canonical_records)
    one = sa.select(canonical_records.c.content_hash).where(
        canonical_records.c.canonical_id == "a-0001"
    )
    with store.engine.connect() as connection:
        assert connection.execute(count).scalar_one() == 2 * PAGE
        assert connection.execute(one).scalar_one() == "changed in between"


def test_a_refused_page_rolls_back_and_the_next_one_lands(store: Store) -> None:
    bad = _records("bad-", "v1")
    bad[40]["entity"] = None  # NOT NULL: the database refuses it, after the staging table exists
    with pytest.raises(sa.exc.IntegrityError), store.transaction() as connection:
        upsert_rows(connection, canonical_records, bad, ["canonical_id"])
    with store.transaction() as connection:
        upsert_rows(connection, canonical_records, _records("good-", "v1"), ["canonical_id"])
    count = sa.select(sa.func.count()).select_from(canonical_records)
    with store.engine.connect() as connection:
        assert connection.execute(count).scalar_one() == PAGE


@pytest.mark.parametrize("count", [1, PAGE])
def test_a_wrong_type_is_refused_the_same_way_at_any_page_size(store: Store, count: int) -> None:
    rows = _records("t-", "v1", count)
    rows[-1]["content_hash"] = {"not": "text"}  # neither driver binds a dict to a text column
    with pytest.raises(sa.exc.DBAPIError), store.transaction() as connection:
        upsert_rows(connection, canonical_records, rows, ["canonical_id"])


@pytest.mark.postgres
@pytest.mark.parametrize("count", [1, PAGE])
def test_postgres_refuses_nul_the_same_way_at_any_page_size(
    postgres_engine: sa.Engine, database_url: str, count: int
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite text holds U+0000")
    store = Store(database_url)
    rows = _records("nul-", "v1", count)
    rows[-1]["source_id"] = "before\x00after"
    try:
        with pytest.raises(sa.exc.DataError, match="NUL"), store.transaction() as connection:
            upsert_rows(connection, canonical_records, rows, ["canonical_id"])
    finally:
        store.close()
