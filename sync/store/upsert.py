"""INSERT ... ON CONFLICT DO UPDATE for both backends, compiled once per table and columns.

A page's upsert runs for every page of every entity, so SQLAlchemy's per-call work (building
the statement, looking up its compiled form, running each parameter through its type per row)
showed as a large share of the capture stage. Here the statement is compiled once per
(dialect, table, columns, key) and each row goes to the driver's ``executemany`` through the
same bind processors SQLAlchemy would apply, so the stored bytes are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]
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
    if dialect.positional:  # SQLite's qmark style
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
    return _Plan(str(compiled), order, processors)


def _processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor | None:
    """What SQLAlchemy does to a value of ``type_`` before the driver sees it, if anything.

    JSON columns turn None into JSON null, as SQLAlchemy's JSON type does with none_as_null off.
    """
    return type_.dialect_impl(dialect).bind_processor(dialect)
