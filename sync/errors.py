"""The error queue: records that could not land, with payload and reason, for people to act on.

A record that fails again while its entry is still open updates that entry (attempts + 1)
instead of adding a second one; a record that later lands resolves its open entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.schema import ErrorStage, ErrorStatus, error_queue, utc_now

_ACTIVE = (ErrorStatus.OPEN.value, ErrorStatus.RETRYING.value)


@dataclass(frozen=True)
class QueuedError:
    """A record's failure, as the engine reports it."""

    flow: str
    entity: str
    source_system: str
    source_object: str
    source_id: str
    stage: ErrorStage
    error_class: str
    message: str
    payload: dict[str, Any] | None
    canonical_id: str | None = None
    target_system: str = ""
    code: str = ""


@dataclass(frozen=True)
class ErrorRow:
    """An error-queue entry as stored."""

    id: int
    run_id: int | None
    entity: str
    source_system: str
    source_id: str
    target_system: str
    stage: str
    error_class: str
    code: str
    message: str
    payload: dict[str, Any] | None
    attempts: int
    status: ErrorStatus
    created_at: datetime
    updated_at: datetime


def _same_record(
    entity: str, source_system: str, source_id: str, target_system: str
) -> sa.ColumnElement[bool]:
    return sa.and_(
        error_queue.c.entity == entity,
        error_queue.c.source_system == source_system,
        error_queue.c.source_id == source_id,
        error_queue.c.target_system == target_system,
        error_queue.c.status.in_(_ACTIVE),
    )


def queue_error(connection: sa.Connection, error: QueuedError, run_id: int) -> None:
    """Add the failure to the queue, or bump the open entry for the same record and target."""
    now = utc_now()
    details = {
        "run_id": run_id,
        "canonical_id": error.canonical_id,
        "stage": error.stage.value,
        "error_class": error.error_class,
        "code": error.code,
        "message": error.message,
        "payload": error.payload,
        "updated_at": now,
    }
    match = _same_record(error.entity, error.source_system, error.source_id, error.target_system)
    bumped = connection.execute(
        sa.update(error_queue).where(match).values(attempts=error_queue.c.attempts + 1, **details)
    )
    if bumped.rowcount:
        return
    connection.execute(
        sa.insert(error_queue).values(
            flow=error.flow,
            entity=error.entity,
            source_system=error.source_system,
            source_object=error.source_object,
            source_id=error.source_id,
            target_system=error.target_system,
            attempts=1,
            status=ErrorStatus.OPEN.value,
            created_at=now,
            **details,
        )
    )


def resolve_landed(
    connection: sa.Connection, entity: str, source_system: str, source_ids: list[str]
) -> int:
    """Mark open entries of records that have now landed everywhere as resolved."""
    if not source_ids:
        return 0
    result = connection.execute(
        sa.update(error_queue)
        .where(
            error_queue.c.entity == entity,
            error_queue.c.source_system == source_system,
            error_queue.c.source_id.in_(source_ids),
            error_queue.c.status.in_(_ACTIVE),
        )
        .values(status=ErrorStatus.RESOLVED.value, updated_at=utc_now())
    )
    return int(result.rowcount)


def count_active(connection: sa.Connection) -> int:
    """Number of open or retrying entries."""
    query = sa.select(sa.func.count()).where(error_queue.c.status.in_(_ACTIVE))
    return int(connection.execute(query).scalar_one())


def list_errors(
    connection: sa.Connection,
    *,
    status: ErrorStatus | None = None,
    entity: str | None = None,
    system: str | None = None,
    limit: int = 100,
) -> list[ErrorRow]:
    """Entries, newest first, filtered by status, entity and (source or target) system."""
    query = sa.select(error_queue).order_by(error_queue.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(error_queue.c.status == status.value)
    if entity is not None:
        query = query.where(error_queue.c.entity == entity)
    if system is not None:
        query = query.where(
            sa.or_(error_queue.c.source_system == system, error_queue.c.target_system == system)
        )
    return [
        ErrorRow(
            id=row.id,
            run_id=row.run_id,
            entity=row.entity,
            source_system=row.source_system,
            source_id=row.source_id,
            target_system=row.target_system,
            stage=row.stage,
            error_class=row.error_class,
            code=row.code,
            message=row.message,
            payload=row.payload,
            attempts=row.attempts,
            status=ErrorStatus(row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in connection.execute(query)
    ]
