"""One error-queue entry in full: the entry, each failed attempt with its time, and who acted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sync.store.audit import AuditEntry, AuditFilter, list_audit
from sync.store.error_queue import ErrorFilter, ErrorRow, list_errors
from sync.store.schema import error_attempts


@dataclass(frozen=True)
class Attempt:
    """One failed attempt: when, in which run, and the reason then."""

    at: datetime
    run_id: int | None
    error_class: str
    code: str
    message: str


@dataclass(frozen=True)
class ErrorDetail:
    """An entry with its attempts (oldest first) and the actions people took on it."""

    entry: ErrorRow
    attempts: list[Attempt]
    actions: list[AuditEntry]


def error_detail(connection: sa.Connection, error_id: int) -> ErrorDetail | None:
    """Entry ``error_id`` in full, or None when there is none."""
    rows = list_errors(connection, where=ErrorFilter(ids=(error_id,)), limit=1)
    if not rows:
        return None
    query = (
        sa.select(error_attempts)
        .where(error_attempts.c.error_id == error_id)
        .order_by(error_attempts.c.id)
        .limit(1000)
    )
    attempts = [
        Attempt(row.at, row.run_id, row.error_class, row.code, row.message)
        for row in connection.execute(query)
    ]
    actions = list_audit(connection, AuditFilter(error_ids=(error_id,)), limit=100)
    return ErrorDetail(rows[0], attempts, actions)
