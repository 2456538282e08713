"""``column IN (ids)`` for a page's worth of ids, as one bound parameter.

SQLAlchemy expands ``column.in_(ids)`` into one parameter per id and processes each of them
on every execution: for a page of 2,000 ids that showed as a large share of the capture
stage's per-page queries. Here the whole list is one parameter: a JSON array read by
SQLite's ``json_each``, a text array compared with ``= ANY`` on PostgreSQL. Same rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY


def one_of(
    connection: sa.Connection, column: sa.ColumnElement[str], values: Collection[str]
) -> sa.ColumnElement[bool]:
    """``column`` is one of ``values`` (strings), in the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.String())))
    if connection.dialect.name == "sqlite":
        array = sa.bindparam(None, json.dumps(list(values)), type_=sa.String())
        value = sa.column("value", sa.String())
        return column.in_(sa.select(value).select_from(sa.func.json_each(array)))
    return column.in_(list(values))
