"""A person's choices on held conflicts, written with their audit row in one transaction.

The CLI and the console record choices here first; the engine then writes each record whose
fields all have a side (``sync.engine.conflict_resolution``).
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from sync.store.audit import Actor, AuditAction, RecordRef, record_action
from sync.store.conflict_log import (
    ConflictFilter,
    ConflictRow,
    ConflictStatus,
    choose,
    list_conflicts,
)


def conflict_refs(rows: list[ConflictRow]) -> list[RecordRef]:
    """The audit's references to the records behind conflict ``rows``."""
    return [
        RecordRef(
            entity=row.entity,
            canonical_id=row.canonical_id,
            source_system=row.source_system,
            source_id=row.source_id,
            conflict_id=row.id,
            run_id=row.run_id,
        )
        for row in rows
    ]


def record_choices(
    connection: sa.Connection, choices: Mapping[int, str], actor: Actor, note: str | None
) -> list[ConflictRow]:
    """Store each open row's chosen side (``source`` or ``target``) and one audit row.

    Rows no longer open are left alone; the rows chosen are returned (none: nothing audited).
    """
    wanted = tuple(choices)
    rows = list_conflicts(connection, ConflictFilter(ids=wanted), limit=None)
    open_rows = [row for row in rows if row.status == ConflictStatus.OPEN.value]
    if not open_rows:
        return []
    for side in ("source", "target"):
        ids = [row.id for row in open_rows if choices[row.id] == side]
        if ids:
            choose(connection, ids, side)
    record_action(connection, actor, AuditAction.CONFLICT_RESOLVE, note, conflict_refs(open_rows))
    return open_rows
