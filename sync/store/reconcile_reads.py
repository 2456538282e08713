"""What a reconcile reads from the store: the ids revbridge holds in a target, stored payloads."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.id_lists import one_of
from sync.store.schema import ErrorStatus, canonical_records, error_queue, runs, xref


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


def never_written(
    connection: sa.Connection,
    system: str,
    entity: str,
    source_system: str,
    since: datetime | None = None,
) -> list[str]:
    """Canonical ids of ``entity`` from ``source_system`` that ``system`` should hold and has no
    id for: not deleted, never written there, and neither waiting in the error queue (queued
    or deferred for a parent) nor set aside by a person (ignored, or resolved by hand).

    Records of a run still in progress are left out: their pages may not have landed yet.
    """
    record = canonical_records.c
    waiting = sa.exists().where(
        error_queue.c.entity == record.entity,
        error_queue.c.source_system == record.source_system,
        error_queue.c.source_id == record.source_id,
        error_queue.c.target_system.in_((system, "")),
        sa.or_(
            error_queue.c.status.in_((ErrorStatus.OPEN, ErrorStatus.RETRYING, ErrorStatus.IGNORED)),
            error_queue.c.closed_by.is_not(None),
        ),
    )
    written = sa.exists().where(xref.c.system == system, xref.c.canonical_id == record.canonical_id)
    running = sa.select(runs.c.id).where(runs.c.finished_at.is_(None))
    query = sa.select(record.canonical_id).where(
        record.entity == entity,
        record.source_system == source_system,
        record.is_deleted.is_(False),
        sa.or_(record.run_id.is_(None), record.run_id.not_in(running)),
        ~written,
        ~waiting,
    )
    if since is not None:
        query = query.where(record.updated_at >= since)
    return [row.canonical_id for row in connection.execute(query.order_by(record.canonical_id))]
