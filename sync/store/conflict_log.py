"""The conflict log: every conflicting field, its three values, the decision, run and time."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sync.store.schema import conflict_log, utc_now


class ConflictStatus(StrEnum):
    """Lifecycle of a conflict-log row."""

    DECIDED = "decided"  # a policy decided it during the run
    OPEN = "open"  # the record is held until a person resolves it
    RESOLVED = "resolved"  # a person chose a side and revbridge wrote the result
    SUPERSEDED = "superseded"  # a later run saw the record again and reviewed it afresh


@dataclass(frozen=True)
class ConflictEntry:
    """One conflicting field of one record in one target, as logged."""

    entity: str
    canonical_id: str
    target_system: str
    field: str
    base_value: Any
    source_value: Any
    target_value: Any
    policy: str
    decision: str
    source_system: str = ""
    source_id: str = ""
    status: ConflictStatus = ConflictStatus.DECIDED
    held_payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class ConflictRow:
    """A logged conflict with its id, run, time and resolution."""

    id: int
    run_id: int | None
    created_at: datetime
    entity: str
    canonical_id: str
    target_system: str
    field: str
    base_value: Any
    source_value: Any
    target_value: Any
    policy: str | None
    decision: str
    source_system: str | None
    source_id: str | None
    status: str
    resolution: str | None
    resolved_at: datetime | None
    held_payload: dict[str, Any] | None


@dataclass(frozen=True)
class ConflictFilter:
    """Which rows ``list_conflicts`` returns; unset fields do not filter."""

    ids: tuple[int, ...] = ()
    status: ConflictStatus | None = None
    entity: str | None = None
    system: str | None = None
    canonical_id: str | None = None
    run_id: int | None = None


def log_conflicts(
    connection: sa.Connection, entries: Sequence[ConflictEntry], run_id: int | None
) -> None:
    """Append one row per conflicting field."""
    if not entries:
        return
    now = utc_now()
    rows = [
        {
            "run_id": run_id,
            "entity": entry.entity,
            "canonical_id": entry.canonical_id,
            "target_system": entry.target_system,
            "field": entry.field,
            "base_value": entry.base_value,
            "source_value": entry.source_value,
            "target_value": entry.target_value,
            "policy": entry.policy,
            "decision": entry.decision,
            "source_system": entry.source_system,
            "source_id": entry.source_id,
            "status": entry.status.value,
            "held_payload": entry.held_payload,
            "created_at": now,
        }
        for entry in entries
    ]
    connection.execute(sa.insert(conflict_log), rows)


def supersede_open(
    connection: sa.Connection, target_system: str, canonical_ids: Collection[str]
) -> int:
    """Close the open rows of records about to be reviewed again; how many were closed."""
    if not canonical_ids:
        return 0
    statement = (
        sa.update(conflict_log)
        .where(
            conflict_log.c.status == ConflictStatus.OPEN.value,
            conflict_log.c.target_system == target_system,
            conflict_log.c.canonical_id.in_(list(canonical_ids)),
        )
        .values(status=ConflictStatus.SUPERSEDED.value, resolved_at=utc_now())
    )
    return connection.execute(statement).rowcount


def list_conflicts(
    connection: sa.Connection, where: ConflictFilter | None = None, limit: int | None = 50
) -> list[ConflictRow]:
    """Matching rows, newest first."""
    where = where or ConflictFilter()
    query = sa.select(conflict_log).order_by(conflict_log.c.id.desc())
    conditions = {
        conflict_log.c.status: where.status.value if where.status else None,
        conflict_log.c.entity: where.entity,
        conflict_log.c.target_system: where.system,
        conflict_log.c.canonical_id: where.canonical_id,
        conflict_log.c.run_id: where.run_id,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if where.ids:
        query = query.where(conflict_log.c.id.in_(where.ids))
    if limit is not None:
        query = query.limit(limit)
    return [_row(row) for row in connection.execute(query)]


def open_for_record(
    connection: sa.Connection, target_system: str, canonical_id: str
) -> list[ConflictRow]:
    """The open rows of one held record in one target."""
    chosen = ConflictFilter(
        status=ConflictStatus.OPEN, system=target_system, canonical_id=canonical_id
    )
    return list_conflicts(connection, chosen, limit=None)


def choose(connection: sa.Connection, ids: Collection[int], resolution: str) -> None:
    """Record a person's choice (``source`` or ``target``) on open rows; they stay open."""
    statement = (
        sa.update(conflict_log)
        .where(
            conflict_log.c.id.in_(list(ids)),
            conflict_log.c.status == ConflictStatus.OPEN.value,
        )
        .values(resolution=resolution)
    )
    connection.execute(statement)


def mark_resolved(connection: sa.Connection, ids: Collection[int]) -> None:
    """Close rows whose record was written with the chosen values."""
    statement = (
        sa.update(conflict_log)
        .where(conflict_log.c.id.in_(list(ids)))
        .values(status=ConflictStatus.RESOLVED.value, resolved_at=utc_now())
    )
    connection.execute(statement)


def _row(row: sa.Row[Any]) -> ConflictRow:
    return ConflictRow(
        id=row.id,
        run_id=row.run_id,
        created_at=row.created_at,
        entity=row.entity,
        canonical_id=row.canonical_id,
        target_system=row.target_system,
        field=row.field,
        base_value=row.base_value,
        source_value=row.source_value,
        target_value=row.target_value,
        policy=row.policy,
        decision=row.decision,
        source_system=row.source_system,
        source_id=row.source_id,
        status=row.status,
        resolution=row.resolution,
        resolved_at=row.resolved_at,
        held_payload=dict(row.held_payload) if row.held_payload else None,
    )
