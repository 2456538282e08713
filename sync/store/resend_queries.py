"""Read-only queries of ``revbridge resend``: stored records by keyset, ids held, last run.

A resend walks each entity's stored records in canonical-id order (the keyset its resume
position names), optionally only those the source changed since a date; it asks which
canonical records hold the ids a target just gave out, and whether the run it resumes is the
target's latest resend.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.id_lists import one_of
from sync.store.records import StoredRecord
from sync.store.schema import canonical_records, runs, xref


def _live(entity: str, after: str, since: datetime | None) -> list[sa.ColumnElement[bool]]:
    table = canonical_records.c
    where = [table.entity == entity, table.canonical_id > after, table.is_deleted.is_(False)]
    if since is not None:
        where.append(table.source_modified_at >= since)
    return where


def stored_batch(
    connection: sa.Connection,
    entity: str,
    *,
    after: str = "",
    limit: int = 500,
    since: datetime | None = None,
) -> list[StoredRecord]:
    """The next ``limit`` live ``entity`` records after canonical id ``after``, by canonical id.

    With ``since``, only records whose source changed at or after it.
    """
    query = (
        sa.select(canonical_records)
        .where(*_live(entity, after, since))
        .order_by(canonical_records.c.canonical_id)
        .limit(limit)
    )
    return [_stored(row) for row in connection.execute(query)]


def count_stored(
    connection: sa.Connection, entity: str, *, after: str = "", since: datetime | None = None
) -> int:
    """How many records :func:`stored_batch` would return in all, batch after batch."""
    query = sa.select(sa.func.count()).select_from(canonical_records)
    return int(connection.execute(query.where(*_live(entity, after, since))).scalar_one())


def xref_holders(
    connection: sa.Connection, system: str, entity: str, external_ids: Collection[str]
) -> dict[str, str]:
    """Which canonical record each of ``external_ids`` belongs to in ``system``, per the xref."""
    if not external_ids:
        return {}
    query = sa.select(xref.c.external_id, xref.c.canonical_id).where(
        xref.c.system == system,
        xref.c.entity == entity,
        one_of(connection, xref.c.external_id, external_ids),
    )
    return {row.external_id: row.canonical_id for row in connection.execute(query)}


def latest_run_id(connection: sa.Connection, flow: str) -> int | None:
    """The id of ``flow``'s newest run, or None before its first."""
    query = sa.select(sa.func.max(runs.c.id)).where(runs.c.flow == flow)
    found = connection.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def _stored(row: sa.Row[Any]) -> StoredRecord:
    return StoredRecord(
        canonical_id=row.canonical_id,
        entity=row.entity,
        payload=dict(row.payload),
        content_hash=row.content_hash,
        source_system=row.source_system,
        source_object=row.source_object,
        source_id=row.source_id,
        source_modified_at=row.source_modified_at,
        source_payload=dict(row.source_payload) if row.source_payload else None,
    )
