"""INSERT ... ON CONFLICT DO UPDATE for both backends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert_rows(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str],
) -> None:
    """Insert ``rows``, updating every non-key column where the key already exists."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:
        raise NotImplementedError(
            f"revbridge's store supports sqlite and postgresql, not {dialect}"
        )
    update_columns = {
        name: statement.excluded[name] for name in rows[0] if name not in set(key_columns)
    }
    statement = statement.on_conflict_do_update(index_elements=key_columns, set_=update_columns)
    connection.execute(statement, list(rows))
