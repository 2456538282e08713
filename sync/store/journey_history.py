"""A record's history as one time-ordered list of events, from what the store kept of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sync.store.audit import AuditEntry
from sync.store.conflict_log import ConflictRow
from sync.store.error_queue import ErrorRow
from sync.store.schema import ErrorStage


class EventKind(StrEnum):
    """What happened to the record."""

    CAPTURED = "captured"  # read from its source and stored (the latest capture)
    WRITTEN = "written"  # last written to a target
    REJECTED = "rejected"  # failed to map, validate or land
    DEFERRED = "deferred"  # waiting for a parent record
    RETRIED = "retried"  # failed again on a retry
    CONFLICT = "conflict"  # the target had changed behind revbridge's back
    ACTION = "action"  # a person acted


@dataclass(frozen=True)
class JourneyEvent:
    """One event of a record's history."""

    at: datetime
    kind: EventKind
    system: str
    run_id: int | None
    summary: str
    error_id: int | None = None
    conflict_id: int | None = None
    audit_id: int | None = None


def _failure_kind(entry: ErrorRow, first: bool) -> EventKind:
    if entry.stage == ErrorStage.RESOLVE.value:
        return EventKind.DEFERRED
    return EventKind.REJECTED if first else EventKind.RETRIED


def _error_events(
    entries: Sequence[ErrorRow], attempts: Sequence[sa.Row[Any]]
) -> list[JourneyEvent]:
    by_entry: dict[int, list[sa.Row[Any]]] = {}
    for attempt in attempts:
        by_entry.setdefault(attempt.error_id, []).append(attempt)
    events: list[JourneyEvent] = []
    for entry in entries:
        system = entry.target_system or entry.source_system
        tried = by_entry.get(entry.id)
        if not tried:  # entries from before attempts were kept: the first and latest only
            events.append(JourneyEvent(entry.created_at, _failure_kind(entry, True), system,
                                       entry.run_id, entry.message, error_id=entry.id))  # fmt: skip
            continue
        for number, attempt in enumerate(tried):
            events.append(JourneyEvent(
                attempt.at, _failure_kind(entry, number == 0), system, attempt.run_id,
                f"{attempt.error_class}: {attempt.message}", error_id=entry.id,
            ))  # fmt: skip
    return events


def history(
    captured: tuple[datetime, int | None] | None,
    written: Sequence[tuple[str, datetime, int | None]],
    errors: Sequence[ErrorRow],
    attempts: Sequence[sa.Row[Any]],
    conflicts: Sequence[ConflictRow],
    actions: Sequence[AuditEntry],
) -> list[JourneyEvent]:
    """Every event, oldest first (ties keep the pipeline's order: capture before write)."""
    events: list[JourneyEvent] = []
    if captured is not None:
        events.append(JourneyEvent(captured[0], EventKind.CAPTURED, "", captured[1], "captured"))
    events += [
        JourneyEvent(at, EventKind.WRITTEN, system, run_id, f"written to {system}")
        for system, at, run_id in written
    ]
    events += _error_events(errors, attempts)
    events += [
        JourneyEvent(row.created_at, EventKind.CONFLICT, row.target_system, row.run_id,
                     f"{row.field}: {row.resolution or row.decision} ({row.status})",
                     conflict_id=row.id)
        for row in conflicts
    ]  # fmt: skip
    events += [
        JourneyEvent(entry.at, EventKind.ACTION, "", None,
                     f"{entry.actor} {entry.action}" + (f": {entry.note}" if entry.note else ""),
                     audit_id=entry.id)
        for entry in actions
    ]  # fmt: skip
    order = list(EventKind)
    return sorted(events, key=lambda event: (event.at, order.index(event.kind)))
