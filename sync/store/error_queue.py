"""The error queue: records that could not land, with payload and reason, for people to act on.

A record that fails again while its entry is still open updates that entry (attempts + 1)
instead of adding a second one; a record that later lands resolves its open entries.

Decisions stick: an entry a person resolved or ignored stays closed when the same record fails
again unchanged (same payload fingerprint, same mapping version), as a backfill over the same
records does. A changed record or mapping opens a new entry whose ``previous_id`` names the
closed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from sync.store.error_fingerprints import payload_fingerprint
from sync.store.id_lists import one_of
from sync.store.schema import ErrorStage, ErrorStatus, error_attempts, error_queue, utc_now

_ACTIVE = (ErrorStatus.OPEN.value, ErrorStatus.RETRYING.value)
_CLOSED = (ErrorStatus.RESOLVED.value, ErrorStatus.IGNORED.value)


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
    # The fingerprint of the mapping that produced the failure: a new one reopens a decision.
    mapping_version: str = ""


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
    canonical_id: str | None = None
    flow: str = ""
    source_object: str = ""
    closed_by: str | None = None
    previous_id: int | None = None


def _same_record(error: QueuedError, statuses: tuple[str, ...]) -> sa.ColumnElement[bool]:
    return sa.and_(
        error_queue.c.entity == error.entity,
        error_queue.c.source_system == error.source_system,
        error_queue.c.source_id == error.source_id,
        error_queue.c.target_system == error.target_system,
        error_queue.c.status.in_(statuses),
    )


def queue_error(connection: sa.Connection, error: QueuedError, run_id: int) -> None:
    """Add the failure to the queue, bump the open entry of the same record and target, or
    leave a person's decision closed when the record and its mapping are unchanged."""
    now = utc_now()
    fingerprint = payload_fingerprint(error.stage.value, error.payload)
    details = {
        "run_id": run_id,
        "canonical_id": error.canonical_id,
        "stage": error.stage.value,
        "error_class": error.error_class,
        "code": error.code,
        "message": error.message,
        "payload": error.payload,
        "payload_fingerprint": fingerprint,
        "mapping_version": error.mapping_version,
        "updated_at": now,
    }
    active = _latest(connection, _same_record(error, _ACTIVE))
    if active is not None:
        connection.execute(
            sa.update(error_queue)
            .where(error_queue.c.id == active.id)
            .values(attempts=error_queue.c.attempts + 1, status=ErrorStatus.OPEN.value, **details)
        )
        _add_attempt(connection, active.id, error, run_id)
        return
    closed = _latest(connection, _same_record(error, _CLOSED))
    if closed is not None and _decision_holds(closed, fingerprint, error.mapping_version):
        return
    inserted = connection.execute(
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
            previous_id=closed.id if closed is not None else None,
            **details,
        )
    ).inserted_primary_key
    assert inserted is not None
    _add_attempt(connection, int(inserted[0]), error, run_id)


@dataclass(frozen=True)
class _Earlier:
    """The newest entry of a record and target, as far as the next failure needs it."""

    id: int
    closed_by: str | None
    payload_fingerprint: str | None
    mapping_version: str | None


def _latest(connection: sa.Connection, match: sa.ColumnElement[bool]) -> _Earlier | None:
    columns = (
        error_queue.c.id,
        error_queue.c.closed_by,
        error_queue.c.payload_fingerprint,
        error_queue.c.mapping_version,
    )
    query = sa.select(*columns).where(match).order_by(error_queue.c.id.desc()).limit(1)
    row = connection.execute(query).first()
    return _Earlier(*row) if row is not None else None


def _decision_holds(closed: _Earlier, fingerprint: str, mapping_version: str) -> bool:
    # Only a person's decision sticks; an entry closed because the record landed says nothing
    # about a new failure.
    return (
        closed.closed_by is not None
        and closed.payload_fingerprint == fingerprint
        and (closed.mapping_version or "") == mapping_version
    )


def _add_attempt(connection: sa.Connection, error_id: int, error: QueuedError, run_id: int) -> None:
    connection.execute(
        sa.insert(error_attempts).values(
            error_id=error_id,
            run_id=run_id,
            at=utc_now(),
            error_class=error.error_class,
            code=error.code,
            message=error.message,
        )
    )


def resolve_landed(
    connection: sa.Connection, entity: str, source_system: str, source_ids: list[str]
) -> int:
    """Mark open entries of records that have now landed everywhere as resolved."""
    if not source_ids or not _any_active(connection, entity, source_system):
        return 0
    result = connection.execute(
        sa.update(error_queue)
        .where(
            error_queue.c.entity == entity,
            error_queue.c.source_system == source_system,
            one_of(connection, error_queue.c.source_id, source_ids),
            error_queue.c.status.in_(_ACTIVE),
        )
        .values(status=ErrorStatus.RESOLVED.value, updated_at=utc_now())
    )
    return int(result.rowcount)


def _any_active(connection: sa.Connection, entity: str, source_system: str) -> bool:
    """Whether any entry of ``entity`` from ``source_system`` is open or retrying.

    Usually none is: this cheap indexed probe spares each page an UPDATE naming every one of
    its source ids.
    """
    query = (
        sa.select(error_queue.c.id)
        .where(
            error_queue.c.entity == entity,
            error_queue.c.source_system == source_system,
            error_queue.c.status.in_(_ACTIVE),
        )
        .limit(1)
    )
    return connection.execute(query).first() is not None


def count_active(connection: sa.Connection) -> int:
    """Number of open or retrying entries."""
    query = sa.select(sa.func.count()).where(error_queue.c.status.in_(_ACTIVE))
    return int(connection.execute(query).scalar_one())


@dataclass(frozen=True)
class ErrorFilter:
    """Which entries a list, retry, resolve, ignore or export applies to."""

    ids: tuple[int, ...] = ()
    status: ErrorStatus | None = None
    entity: str | None = None
    system: str | None = None  # source or target
    error_class: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    run_id: int | None = None  # entries the run queued or touched last

    def where(self, now: datetime) -> list[sa.ColumnElement[bool]]:
        """The SQL conditions of this filter."""
        table = error_queue.c
        conditions: list[sa.ColumnElement[bool]] = []
        if self.ids:
            conditions.append(table.id.in_(self.ids))
        if self.status is not None:
            conditions.append(table.status == self.status.value)
        if self.entity is not None:
            conditions.append(table.entity == self.entity)
        if self.system is not None:
            conditions.append(sa.or_(table.source_system == self.system,
                                     table.target_system == self.system))  # fmt: skip
        if self.run_id is not None:
            conditions.append(table.run_id == self.run_id)
        if self.error_class is not None:
            conditions.append(table.error_class == self.error_class)
        if self.older_than is not None:
            conditions.append(table.created_at <= now - self.older_than)
        if self.newer_than is not None:
            conditions.append(table.created_at >= now - self.newer_than)
        return conditions


def error_row(row: sa.Row[Any]) -> ErrorRow:
    """An error-queue row as :class:`ErrorRow`."""
    return ErrorRow(
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
        canonical_id=row.canonical_id,
        flow=row.flow,
        source_object=row.source_object,
        closed_by=row.closed_by,
        previous_id=row.previous_id,
    )


def list_errors(
    connection: sa.Connection,
    *,
    status: ErrorStatus | None = None,
    entity: str | None = None,
    system: str | None = None,
    limit: int | None = 100,
    where: ErrorFilter | None = None,
) -> list[ErrorRow]:
    """Entries, newest first, filtered by status, entity and (source or target) system."""
    chosen = where or ErrorFilter(status=status, entity=entity, system=system)
    query = sa.select(error_queue).where(*chosen.where(utc_now())).order_by(error_queue.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [error_row(row) for row in connection.execute(query)]


def set_status(
    connection: sa.Connection,
    ids: Sequence[int],
    status: ErrorStatus,
    closed_by: str | None = None,
) -> int:
    """Resolve or ignore entries by hand (or reopen them); returns how many changed.

    ``closed_by`` names the person who closed them: their decision then sticks (see the module
    docstring). Reopening clears it.
    """
    if not ids:
        return 0
    closing = status.value in _CLOSED
    result = connection.execute(
        sa.update(error_queue)
        .where(error_queue.c.id.in_(list(ids)))
        .values(status=status.value, updated_at=utc_now(), closed_by=closed_by if closing else None)
    )
    return int(result.rowcount)


def retry_delay(attempts: int, entry_id: int) -> timedelta:
    """Exponential backoff with jitter for automatic retries: 1 min, 2, 4, ... capped at 6 h.

    The jitter is derived from the entry id, so it is stable between runs yet spreads entries.
    """
    base = min(60.0 * 2 ** max(attempts - 1, 0), 6 * 3600.0)
    jitter = 0.8 + 0.4 * ((entry_id * 2654435761) % 1000) / 1000
    return timedelta(seconds=base * jitter)


def due_for_retry(
    connection: sa.Connection, entity: str, source_system: str, max_attempts: int
) -> list[ErrorRow]:
    """Open entries the engine retries by itself.

    Deferred records (stage resolve) are due on every run: the parent they wait for may land
    any time, and a fetch by id costs one API call per 200 records. Transient failures back
    off exponentially and give up after ``max_attempts``, staying open for a person.
    """
    query = sa.select(error_queue).where(
        error_queue.c.entity == entity,
        error_queue.c.source_system == source_system,
        error_queue.c.status.in_(_ACTIVE),
        sa.or_(
            error_queue.c.stage == ErrorStage.RESOLVE.value,
            sa.and_(
                error_queue.c.error_class.in_(["TransientError", "RateLimited"]),
                error_queue.c.attempts < max_attempts,
            ),
        ),
    )
    now = utc_now()
    rows = [error_row(row) for row in connection.execute(query)]
    return [
        row
        for row in rows
        if row.stage == ErrorStage.RESOLVE.value
        or row.updated_at + retry_delay(row.attempts, row.id) <= now
    ]
