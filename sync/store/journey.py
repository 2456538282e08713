"""A record's journey: found by any id it has in any system, with its history in time order.

A person holds whatever id the ticket gave them: a Salesforce Id, a billing id, a NetSuite
internalId or revbridge's canonical id. Each lookup below is one indexed probe (canonical id,
source id, xref external id and canonical id, the error queue's source id; migration 0005).
A record that never mapped has no canonical id; its journey is its error-queue entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.audit import AuditEntry, AuditFilter, list_audit
from sync.store.conflict_log import ConflictFilter, ConflictRow, list_conflicts
from sync.store.error_queue import ErrorRow, error_row
from sync.store.journey_history import JourneyEvent, history
from sync.store.schema import canonical_records, error_attempts, error_queue, xref

MAX_RECORDS = 20  # a short id can match many records; a person narrows it down from a list


@dataclass(frozen=True)
class SystemRecord:
    """The record's id in one system and, for a target, what revbridge last sent there."""

    system: str
    object_name: str
    external_id: str
    last_written_at: datetime | None
    run_id: int | None
    last_written_payload: dict[str, Any] | None


@dataclass(frozen=True)
class CanonicalState:
    """The canonical record as last captured."""

    payload: dict[str, Any]
    source_modified_at: datetime
    captured_at: datetime
    run_id: int | None
    is_deleted: bool


@dataclass(frozen=True)
class Journey:
    """Everything the store knows of one record."""

    entity: str
    source_system: str
    source_id: str
    canonical_id: str | None
    canonical: CanonicalState | None
    systems: list[SystemRecord]
    errors: list[ErrorRow]
    conflicts: list[ConflictRow]
    actions: list[AuditEntry]
    events: list[JourneyEvent]


@dataclass(frozen=True)
class _Key:
    entity: str
    source_system: str
    source_id: str
    canonical_id: str | None


def find_journeys(connection: sa.Connection, any_id: str) -> list[Journey]:
    """The journeys of every record known by ``any_id`` (usually one), at most MAX_RECORDS."""
    wanted = any_id.strip()
    if not wanted or len(wanted) > 255 or "\x00" in wanted:  # no stored id is longer or has NUL
        return []
    return [_journey(connection, key) for key in _keys(connection, wanted)]


def _keys(connection: sa.Connection, wanted: str) -> list[_Key]:
    records = canonical_records.c
    columns = (records.entity, records.source_system, records.source_id, records.canonical_id)
    # Separate probes, each on its own index: one query OR-ing them reads the whole table.
    via_xref = connection.execute(
        sa.select(xref.c.canonical_id).where(xref.c.external_id == wanted).limit(MAX_RECORDS)
    ).scalars()
    by_id = sa.select(*columns).where(records.canonical_id.in_([wanted, *via_xref]))
    by_source = sa.select(*columns).where(records.source_id == wanted).limit(MAX_RECORDS)
    keys = list(
        dict.fromkeys(
            _Key(*row) for query in (by_id, by_source) for row in connection.execute(query)
        )
    )
    known = {(key.entity, key.source_system, key.source_id) for key in keys}
    orphans = (
        sa.select(error_queue.c.entity, error_queue.c.source_system, error_queue.c.source_id)
        .where(sa.or_(error_queue.c.source_id == wanted, error_queue.c.canonical_id == wanted))
        .distinct()
        .limit(MAX_RECORDS)
    )
    for row in connection.execute(orphans):
        if (row.entity, row.source_system, row.source_id) not in known:
            keys.append(_Key(row.entity, row.source_system, row.source_id, None))
    return keys[:MAX_RECORDS]


def _journey(connection: sa.Connection, key: _Key) -> Journey:
    canonical = _canonical(connection, key.canonical_id)
    systems = _systems(connection, key.canonical_id)
    errors = _errors(connection, key)
    attempts = _attempts(connection, [row.id for row in errors])
    conflicts = (
        list_conflicts(connection, ConflictFilter(canonical_id=key.canonical_id), limit=200)
        if key.canonical_id
        else []
    )
    actions = list_audit(
        connection,
        AuditFilter(
            canonical_ids=(key.canonical_id,) if key.canonical_id else (),
            source_ids=(key.source_id,),
            error_ids=tuple(row.id for row in errors),
        ),
        limit=200,
    )
    actions = [a for a in actions if _concerns(a, key, {row.id for row in errors})]
    captured = (canonical.captured_at, canonical.run_id) if canonical else None
    events = history(captured, systems_written(systems), errors, attempts, conflicts, actions)
    return Journey(
        entity=key.entity,
        source_system=key.source_system,
        source_id=key.source_id,
        canonical_id=key.canonical_id,
        canonical=canonical,
        systems=systems,
        errors=errors,
        conflicts=conflicts,
        actions=actions,
        events=events,
    )


def systems_written(systems: list[SystemRecord]) -> list[tuple[str, datetime, int | None]]:
    """(system, when, run) of each target revbridge wrote the record to."""
    return [
        (entry.system, entry.last_written_at, entry.run_id)
        for entry in systems
        if entry.last_written_at is not None
    ]


def _concerns(action: AuditEntry, key: _Key, error_ids: set[int]) -> bool:
    # A bare source id may repeat across systems; keep actions on this very record.
    return any(
        (ref.canonical_id is not None and ref.canonical_id == key.canonical_id)
        or (ref.error_id is not None and ref.error_id in error_ids)
        or (ref.source_id == key.source_id and ref.source_system in (None, key.source_system))
        for ref in action.records
    )


def _canonical(connection: sa.Connection, canonical_id: str | None) -> CanonicalState | None:
    if canonical_id is None:
        return None
    records = canonical_records.c
    row = connection.execute(
        sa.select(records.payload, records.source_modified_at, records.updated_at,
                  records.run_id, records.is_deleted)
        .where(records.canonical_id == canonical_id)
    ).first()  # fmt: skip
    if row is None:
        return None
    return CanonicalState(dict(row.payload), row.source_modified_at, row.updated_at,
                          row.run_id, bool(row.is_deleted))  # fmt: skip


def _systems(connection: sa.Connection, canonical_id: str | None) -> list[SystemRecord]:
    if canonical_id is None:
        return []
    query = sa.select(xref).where(xref.c.canonical_id == canonical_id).order_by(xref.c.system)
    return [
        SystemRecord(row.system, row.object_name, row.external_id, row.last_written_at,
                     row.run_id, row.last_written_payload)
        for row in connection.execute(query)
    ]  # fmt: skip


def _errors(connection: sa.Connection, key: _Key) -> list[ErrorRow]:
    query = (
        sa.select(error_queue)
        .where(
            error_queue.c.entity == key.entity,
            error_queue.c.source_system == key.source_system,
            error_queue.c.source_id == key.source_id,
        )
        .order_by(error_queue.c.id)
        .limit(500)
    )
    return [error_row(row) for row in connection.execute(query)]


def _attempts(connection: sa.Connection, error_ids: list[int]) -> list[sa.Row[Any]]:
    if not error_ids:
        return []
    query = (
        sa.select(error_attempts)
        .where(error_attempts.c.error_id.in_(error_ids))
        .order_by(error_attempts.c.id)
        .limit(2000)
    )
    return list(connection.execute(query))
