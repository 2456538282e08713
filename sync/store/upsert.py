"""INSERT ... ON CONFLICT DO UPDATE for both backends, compiled once per table and columns.

A page's upsert runs for every page of every entity, so SQLAlchemy's per-call work (building
the statement, looking up its compiled form, running each parameter through its type per row)
showed as a large share of the capture stage. Here the statement is compiled once per
(dialect, table, columns, key) and each row goes to the driver's ``executemany`` through the
same bind processors SQLAlchemy would apply, so the stored bytes are the same.

On PostgreSQL a page of at least ``COPY_MIN_ROWS`` rows goes in by ``COPY`` into a temporary
staging table and one ``INSERT ... SELECT ... ON CONFLICT`` merge: psycopg's ``executemany``
sends one statement per row (pipelined) and dumps each parameter in Python, about twice the
client CPU of ``COPY`` on a page of canonical records (measured in ``bench/sync_bench.py
--database-url``, see docs/performance.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from sync.store.schema import dump_json

Processor = Callable[[Any], Any]
# Below this many rows the staging table's extra round trips cost more than COPY saves.
COPY_MIN_ROWS = 64
_PLANS: dict[tuple[str, str, sa.Table, tuple[str, ...], tuple[str, ...]], _Plan] = {}


class _Plan:
    """One compiled upsert: its SQL text and how rows become the driver's parameters."""

    def __init__(
        self, sql: str, columns: tuple[str, ...], processors: tuple[Processor | None, ...]
    ) -> None:
        self.sql = sql
        self.columns = columns
        # (index, processor, what it makes of None): a page's rows share many values (None,
        # the page's timestamp), each processed once per page rather than once per row.
        self._processed = [(i, p, p(None)) for i, p in enumerate(processors) if p is not None]
        self._values = itemgetter(*columns)  # a row's values in bind order, in one C call
        self.staging: _Staging | None = None  # PostgreSQL's COPY path, set by _compile

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """Each row's values in bind order, through SQLAlchemy's bind processors."""
        get = self._values
        table = (
            [list(get(row)) for row in rows]
            if len(self.columns) > 1
            else [[get(row)] for row in rows]
        )
        for index, process, for_none in self._processed:
            last_in: Any = None
            last_out = for_none
            for values in table:
                value = values[index]
                if value is not last_in:
                    last_in, last_out = value, process(value)
                values[index] = last_out
        return table


def upsert_rows(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str],
) -> None:
    """Insert ``rows``, updating every non-key column where the key already exists.

    Every row must have the keys of the first one (the columns written).
    """
    if not rows:
        return
    dialect = connection.dialect
    columns = tuple(rows[0])
    cache_key = (dialect.name, dialect.paramstyle, table, columns, tuple(key_columns))
    plan = _PLANS.get(cache_key)
    if plan is None:
        plan = _PLANS[cache_key] = _compile(dialect, table, columns, tuple(key_columns))
    try:
        parameters = plan.parameters(rows)
    except Exception as error:  # as SQLAlchemy reports a value its types refuse
        raise sa.exc.DBAPIError.instance(
            plan.sql, None, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error
    if plan.staging is not None and len(parameters) >= COPY_MIN_ROWS:
        plan.staging.merge(connection, parameters)
    elif dialect.positional:  # SQLite's qmark style
        connection.exec_driver_sql(plan.sql, [tuple(values) for values in parameters])
    else:  # psycopg's pyformat style: by name
        names = plan.columns
        connection.exec_driver_sql(plan.sql, [dict(zip(names, v, strict=True)) for v in parameters])


def _compile(
    dialect: Dialect, table: sa.Table, columns: tuple[str, ...], key_columns: tuple[str, ...]
) -> _Plan:
    if dialect.name == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect.name == "sqlite":
        statement = sqlite.insert(table)
    else:
        raise NotImplementedError(
            f"revbridge's store supports sqlite and postgresql, not {dialect.name}"
        )
    update_columns = {name: statement.excluded[name] for name in columns if name not in key_columns}
    statement = statement.on_conflict_do_update(index_elements=key_columns, set_=update_columns)
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    order = tuple(compiled.positiontup or ()) if dialect.positional else columns
    if sorted(order) != sorted(columns):
        raise RuntimeError(f"upsert of {table.name} binds {order}, expected {columns}")
    processors = tuple(_processor(table.c[name].type, dialect) for name in order)
    plan = _Plan(str(compiled), order, processors)
    if dialect.name == "postgresql":
        types = tuple(_copy_type(table.c[name].type, dialect) for name in order)
        plan.staging = _Staging(table, order, key_columns, types)
    return plan


def _copy_type(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> str:
    """The PostgreSQL type COPY dumps a column's processed values as.

    JSON columns go as text (already serialized by :func:`_json_text`, as the Jsonb dumper would
    serialize them): COPY's text input of a jsonb column is the JSON text itself.
    """
    impl = type_.dialect_impl(dialect)
    if isinstance(impl, sa.JSON):
        return "text"
    name = str(impl.compile(dialect=dialect)).lower()
    return {"timestamp with time zone": "timestamptz", "boolean": "bool",
            "integer": "int4", "bigint": "int8"}.get(name, "text")  # fmt: skip


def _processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor | None:
    """What SQLAlchemy does to a value of ``type_`` before the driver sees it, if anything.

    JSON columns turn None into JSON null, as SQLAlchemy's JSON type does with none_as_null off.
    """
    return type_.dialect_impl(dialect).bind_processor(dialect)


class _Staging:
    """PostgreSQL's bulk path for one compiled upsert: COPY into a temporary table, then merge.

    The staging table lives as long as the database session and is emptied at every commit
    (``ON COMMIT DELETE ROWS``); the merge takes the rows out of it as it reads them, so a
    second upsert of the same table in one transaction starts empty too. ``CREATE ... IF NOT
    EXISTS`` runs each time: a transaction that rolled back took a table it created with it.
    """

    def __init__(
        self,
        table: sa.Table,
        columns: tuple[str, ...],
        keys: tuple[str, ...],
        types: tuple[str, ...],
    ) -> None:
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        # One staging table per column set: a session may upsert a table with several.
        digest = hashlib.sha256(",".join(columns).encode()).hexdigest()[:10]
        stage = sql.Identifier("pg_temp", f"rb_stage_{table.name}_{digest}")
        target = sql.Identifier(*([table.schema] if table.schema else []), table.name)
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(name))
            for name in columns
            if name not in keys
        )
        self.create_sql = sql.SQL(
            "CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
            "AS SELECT {names} FROM {target} WITH NO DATA"
        ).format(stage=stage, names=names, target=target)
        self.copy_sql = sql.SQL("COPY {stage} ({names}) FROM STDIN").format(
            stage=stage, names=names
        )
        self.merge_sql = sql.SQL(
            "WITH staged AS (DELETE FROM {stage} RETURNING {names}) "
            "INSERT INTO {target} ({names}) SELECT {names} FROM staged "
            "ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        ).format(
            stage=stage,
            names=names,
            target=target,
            keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
            updates=updates,
        )
        self._key = itemgetter(*(columns.index(k) for k in keys))
        # Types given once per COPY let psycopg's C code dump each row, where dumpers chosen
        # per value cost as much again; JSON columns are serialized here, to text.
        self._types = types
        self._json = [
            i for i, name in enumerate(columns) if isinstance(table.c[name].type, sa.JSON)
        ]

    def merge(self, connection: sa.Connection, parameters: list[list[Any]]) -> None:
        """Upsert ``parameters`` (bind order, processed) in the connection's transaction."""
        driver = cast(psycopg.Connection[Any], connection.connection.driver_connection)
        try:
            with driver.cursor() as cursor:
                cursor.execute(self.create_sql)
                with cursor.copy(self.copy_sql) as copy:
                    copy.set_types(self._types)
                    for values in self._last_per_key(parameters):
                        for index in self._json:
                            values[index] = _json_text(values[index])
                        copy.write_row(values)
                cursor.execute(self.merge_sql)
        except (psycopg.Error, TypeError) as error:  # as SQLAlchemy would raise it
            # COPY's typed dumpers refuse a value of the wrong type with a TypeError, where
            # executemany's raise ProgrammingError ("cannot adapt type"): the same error here.
            refused = (
                error
                if isinstance(error, psycopg.Error)
                else psycopg.ProgrammingError(f"cannot dump a value for COPY: {error}")
            )
            raise sa.exc.DBAPIError.instance(
                self.merge_sql.as_string(), None, refused, psycopg.Error, dialect=connection.dialect
            ) from error

    def _last_per_key(self, parameters: list[list[Any]]) -> list[list[Any]]:
        """One row per key, the last one given: what row-by-row upserts would have left.

        One INSERT may not update a row twice, where executemany's statements each may.
        """
        key = self._key
        last = {key(values): values for values in parameters}
        return parameters if len(last) == len(parameters) else list(last.values())


def _json_text(value: Any) -> str | None:
    """A JSON column's processed value (psycopg's ``Jsonb``) as the text the Jsonb dumper writes.

    The JSON bind processor wraps every value, None as JSON null (``Jsonb(None)``); SQL NULL
    only reaches here as a plain None. ``dump_json`` is the serializer the store's engine gives
    psycopg (:func:`~sync.store.database.create_store_engine`).
    """
    if isinstance(value, Jsonb):
        return dump_json(value.obj)
    return None if value is None else dump_json(value)
