"""What people do to error-queue entries, each written to the audit in the same transaction.

The CLI and the console call these same functions, so an action taken either way leaves the
same trace.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from sync.store.audit import Actor, AuditAction, RecordRef, record_action
from sync.store.error_queue import ErrorFilter, ErrorRow, list_errors, set_status
from sync.store.outbox_resolutions import record_resolved_events
from sync.store.schema import ErrorStatus

_CLOSING = {
    ErrorStatus.RESOLVED: AuditAction.ERROR_RESOLVE,
    ErrorStatus.IGNORED: AuditAction.ERROR_IGNORE,
}


class NoteRequired(ValueError):
    """Resolving or ignoring without saying why: the next person could not tell."""


def error_refs(rows: Sequence[ErrorRow]) -> list[RecordRef]:
    """The audit's references to the records behind ``rows``."""
    return [
        RecordRef(
            entity=row.entity,
            canonical_id=row.canonical_id,
            source_system=row.source_system,
            source_id=row.source_id,
            error_id=row.id,
            run_id=row.run_id,
        )
        for row in rows
    ]


def close_errors(
    connection: sa.Connection,
    ids: Sequence[int],
    status: ErrorStatus,
    actor: Actor,
    note: str | None,
    *,
    note_required: bool = True,
    record_events: bool = False,
) -> int:
    """Resolve or ignore entries as ``actor`` with ``note``; how many changed.

    Raises NoteRequired for a blank note when ``note_required`` (the console always requires
    one; the CLI keeps old scripts working without one). With ``record_events`` (a sink is
    configured), resolving writes a ``resolved`` change event per entry that was open.
    """
    if status not in _CLOSING:
        raise ValueError(f"{status.value} does not close an entry")
    cleaned = (note or "").strip() or None
    if cleaned is None and note_required:
        raise NoteRequired(f"say why you {_CLOSING[status].value.split('.')[1]} these entries")
    rows = list_errors(connection, where=ErrorFilter(ids=tuple(ids)), limit=None)
    if not rows:
        return 0
    if record_events and status is ErrorStatus.RESOLVED:
        record_resolved_events(connection, rows, closed_by=actor.name)
    changed = set_status(connection, [row.id for row in rows], status, closed_by=actor.name)
    record_action(connection, actor, _CLOSING[status], cleaned, error_refs(rows))
    return changed


def audit_retry(connection: sa.Connection, rows: Sequence[ErrorRow], actor: Actor) -> int:
    """Record that ``actor`` asked to retry ``rows``; the audit id."""
    return record_action(connection, actor, AuditAction.ERROR_RETRY, None, error_refs(rows))
