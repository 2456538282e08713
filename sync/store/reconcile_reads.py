"""What a reconcile reads from the store: the ids revbridge holds in a target, stored payloads."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.id_lists import one_of
from sync.store.schema import canonical_records, xref


def ids_in_target(
    connection: sa.Connection, system: str, entity: str, since: datetime | None = None
) -> dict[str, str]:
    """Target id -> canonical id of every ``entity`` revbridge wrote to ``system``.

    ``since`` keeps those written at or after it. Ids only (no payloads): a reconcile keeps
    this map while it streams the target, so it stays small at 100k records.
    """
    query = sa.select(xref.c.external_id, xref.c.canonical_id).where(
        xref.c.system == system, xref.c.entity == entity
    )
    if since is not None:
        query = query.where(xref.c.last_written_at >= since)
    return {row.external_id: row.canonical_id for row in connection.execute(query)}


def canonical_payloads(
    connection: sa.Connection, canonical_ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """Stored canonical payloads by id, deleted records left out."""
    if not canonical_ids:
        return {}
    query = sa.select(canonical_records.c.canonical_id, canonical_records.c.payload).where(
        one_of(connection, canonical_records.c.canonical_id, canonical_ids),
        canonical_records.c.is_deleted.is_(False),
    )
    return {row.canonical_id: dict(row.payload) for row in connection.execute(query)}
