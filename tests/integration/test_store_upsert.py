"""The store's compiled upserts and one-parameter id lists, against SQLAlchemy's own forms."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from sync.store import Store
from sync.store.id_lists import one_of
from sync.store.schema import JsonText, canonical_records, plain_json_text, xref
from sync.store.upsert import upsert_rows

# A non-UTC offset: the store converts it to UTC on the way in.
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    yield store
    store.close()


def _sqlalchemy_upsert(
    connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: list[str]
) -> None:
    """The statement upsert_rows replaced, built and executed through SQLAlchemy each time."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    updates = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def _records(prefix: str, name: str) -> list[dict[str, Any]]:
    payloads = [
        ({"name": name, "amount": Decimal("1.50"), "city": "Zürich"}, None),
        ({}, {"Id": "1", "Items": [1, None, True], "Stamp": WHEN}),
        ({"nested": {"none": None}}, {"Name": "é\u2028"}),
    ]
    return [
        {"canonical_id": f"{prefix}{n}", "entity": "account", "payload": payload,
         "content_hash": name, "source_system": "salesforce", "source_object": "Account",
         "source_id": f"{prefix}{n}", "source_modified_at": WHEN, "is_deleted": False,
         "updated_at": WHEN, "run_id": 7, "source_payload": source}
        for n, (payload, source) in enumerate(payloads)
    ]  # fmt: skip


def _xrefs(prefix: str, written: str | None) -> list[dict[str, Any]]:
    return [
        {"system": "billing", "canonical_id": f"{prefix}{n}", "entity": "account",
         "object_name": "customers", "external_id": f"{prefix}-cus-{n}",
         "last_written_hash": written if n else None, "last_written_at": WHEN if n else None,
         "run_id": 3, "last_written_payload": {"n": n} if n else None,
         "last_source_payload": None}
        for n in range(2)
    ]  # fmt: skip


def _stored(connection: sa.Connection, table: sa.Table, prefix: str) -> list[tuple[Any, ...]]:
    """Rows as the driver returns them (JSON as stored), ids and external ids unprefixed."""
    key = table.c.canonical_id
    rows = connection.execute(sa.select(table).where(key.like(f"{prefix}%")).order_by(key))
    return [
        tuple(
            str(value).replace(prefix, "", 1) if isinstance(value, str) else value for value in row
        )
        for row in rows
    ]


@pytest.mark.parametrize(("table", "keys"), [
    (canonical_records, ["canonical_id"]), (xref, ["system", "canonical_id"]),
])  # fmt: skip
def test_upsert_rows_stores_what_sqlalchemy_stores(
    store: Store, table: sa.Table, keys: list[str]
) -> None:
    def rows(prefix: str, version: str) -> list[dict[str, Any]]:
        return _records(prefix, version) if table is canonical_records else _xrefs(prefix, version)

    for version in ("v1", "v2"):  # an insert, then an update of every non-key column
        with store.transaction() as connection:
            _sqlalchemy_upsert(connection, table, rows("old-", version), keys)
            upsert_rows(connection, table, rows("new-", version), keys)

    with store.engine.connect() as connection:
        old, new = _stored(connection, table, "old-"), _stored(connection, table, "new-")
        raw = connection.exec_driver_sql(f"SELECT * FROM {table.name}").fetchall()
    assert new == old
    assert len(new) == len(rows("x", "v2"))
    assert "v2" in str(new)
    assert len({str(row) for row in raw}) == len(raw)


def test_json_null_is_stored_as_json_null_not_sql_null(store: Store) -> None:
    with store.transaction() as connection:
        _sqlalchemy_upsert(connection, xref, _xrefs("old-", "h"), ["system", "canonical_id"])
        upsert_rows(connection, xref, _xrefs("new-", "h"), ["system", "canonical_id"])
    query = sa.select(sa.func.count()).where(xref.c.last_source_payload.is_(None))
    with store.engine.connect() as connection:
        sql_nulls = connection.execute(query).scalar_one()
    assert sql_nulls == 0  # SQLAlchemy's JSON type writes JSON null; so must the fast path


def test_a_value_the_store_refuses_raises_statement_error(store: Store) -> None:
    (row, *_) = _records("bad-", "v1")
    naive = {**row, "updated_at": datetime(2026, 1, 5)}
    refused = pytest.raises(sa.exc.StatementError, match="naive datetime")
    with refused, store.transaction() as connection:
        upsert_rows(connection, canonical_records, [naive], ["canonical_id"])
    count = sa.select(sa.func.count()).select_from(canonical_records)
    with store.engine.connect() as connection:
        assert connection.execute(count).scalar_one() == 0


def test_pre_serialized_json_is_stored_as_the_same_json(store: Store) -> None:
    payload = {"name": "Zürich", "amount": "1.50", "lines": [{"n": 1}, None], "big": 10**20}
    rows = [
        {**_records("text-", "v1")[0], "payload": plain_json_text(payload)},
        {**_records("dict-", "v1")[0], "payload": payload},
    ]
    with store.transaction() as connection:
        upsert_rows(connection, canonical_records, rows, ["canonical_id"])
    with store.engine.connect() as connection:
        query = sa.select(canonical_records.c.canonical_id, canonical_records.c.payload)
        stored = {row.canonical_id: row.payload for row in connection.execute(query)}
    assert stored["text-0"] == stored["dict-0"] == payload


def test_plain_json_text_falls_back_where_pydantic_core_refuses() -> None:
    lone_surrogate = {"name": "\ud800"}
    text = plain_json_text(lone_surrogate)
    assert isinstance(text, JsonText)
    assert text == '{"name": "\\ud800"}'  # the json module's text, which carries it


IDS = ["a", "c'q", "é", "missing", "a"]


@pytest.mark.parametrize("ids", [IDS, ["nothing"], [f"id{n}" for n in range(3000)] + ["b"]])
def test_one_of_matches_what_in_matches(store: Store, ids: list[str]) -> None:
    rows = [_xrefs(f"{key}", None)[0] | {"canonical_id": key, "external_id": key}
            for key in ("a", "b", "c'q", "é", "zz")]  # fmt: skip
    with store.transaction() as connection:
        upsert_rows(connection, xref, rows, ["system", "canonical_id"])
        column = xref.c.external_id
        found = connection.execute(sa.select(column).where(one_of(connection, column, ids)))
        expected = connection.execute(sa.select(column).where(column.in_(ids)))
        assert sorted(found.scalars()) == sorted(expected.scalars())
