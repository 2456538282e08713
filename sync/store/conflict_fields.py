"""Held conflicts by record: each differing field with its source, target and last-sent value.

The conflict log keeps one row per field; a person decides per record, field by field, so the
console reads them grouped by (target system, canonical id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.conflict_log import ConflictRow, ConflictStatus, open_for_record
from sync.store.schema import conflict_log


@dataclass(frozen=True)
class FieldConflict:
    """One field of a held record: the three values and the side chosen so far, if any."""

    conflict_id: int
    field: str
    source_value: Any
    target_value: Any
    last_sent_value: Any  # what revbridge last wrote there: the base of the three-way merge
    chosen: str | None


@dataclass(frozen=True)
class HeldRecord:
    """A record held for a person in one target, with its conflicting fields."""

    entity: str
    canonical_id: str
    target_system: str
    source_system: str | None
    source_id: str | None
    run_id: int | None
    held_at: datetime
    fields: list[FieldConflict]


def _held(rows: Sequence[ConflictRow]) -> HeldRecord:
    newest = max(rows, key=lambda row: row.id)
    return HeldRecord(
        entity=newest.entity,
        canonical_id=newest.canonical_id,
        target_system=newest.target_system,
        source_system=newest.source_system,
        source_id=newest.source_id,
        run_id=newest.run_id,
        held_at=newest.created_at,
        fields=[
            FieldConflict(row.id, row.field, row.source_value, row.target_value, row.base_value,
                          row.resolution)
            for row in sorted(rows, key=lambda row: row.field)
        ],
    )  # fmt: skip


def held_record(
    connection: sa.Connection, target_system: str, canonical_id: str
) -> HeldRecord | None:
    """The record held in ``target_system``, or None when nothing of it is open."""
    rows = open_for_record(connection, target_system, canonical_id)
    return _held(rows) if rows else None


def held_records(
    connection: sa.Connection,
    *,
    entity: str | None = None,
    target_system: str | None = None,
    limit: int = 50,
) -> list[HeldRecord]:
    """Records waiting for a person, most recently held first."""
    table = conflict_log.c
    newest = sa.func.max(table.id)
    query = (
        sa.select(table.target_system, table.canonical_id)
        .where(table.status == ConflictStatus.OPEN.value)
        .group_by(table.target_system, table.canonical_id)
        .order_by(newest.desc())
        .limit(max(1, min(limit, 500)))
    )
    if entity is not None:
        query = query.where(table.entity == entity)
    if target_system is not None:
        query = query.where(table.target_system == target_system)
    found = [
        held_record(connection, system, canonical_id)
        for system, canonical_id in connection.execute(query)
    ]
    return [record for record in found if record is not None]
