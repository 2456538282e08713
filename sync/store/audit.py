"""The audit trail: who did what to which records, when, and why (the note).

``record_action`` takes the caller's connection, so the audit row commits or rolls back with
the action it describes: an action is never done unaudited, and no audit row claims an action
that did not happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sync.store.schema import audit_log, audit_records, utc_now


class ActorKind(StrEnum):
    """How the person acting was known."""

    CONSOLE_USER = "console_user"  # logged in to the console
    API_TOKEN = "api_token"  # noqa: S105 (a kind of actor, not a secret): a script's token
    CLI_OS_USER = "cli_os_user"  # the operating-system user running the CLI


class AuditAction(StrEnum):
    """What a person did."""

    ERROR_RETRY = "error.retry"
    ERROR_RESOLVE = "error.resolve"
    ERROR_IGNORE = "error.ignore"
    CONFLICT_RESOLVE = "conflict.resolve"
    FINDING_ACKNOWLEDGE = "finding.acknowledge"
    EVENT_REPLAY = "event.replay"  # dead-lettered change events requeued for a sink


@dataclass(frozen=True)
class Actor:
    """Who acted."""

    name: str
    kind: ActorKind


@dataclass(frozen=True)
class RecordRef:
    """One record an action touched, by whatever ids the action knew it by."""

    entity: str | None = None
    canonical_id: str | None = None
    source_system: str | None = None
    source_id: str | None = None
    error_id: int | None = None
    conflict_id: int | None = None
    run_id: int | None = None


@dataclass(frozen=True)
class AuditEntry:
    """A recorded action with the records it touched."""

    id: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    note: str | None
    records: tuple[RecordRef, ...] = field(default=())


def record_action(
    connection: sa.Connection,
    actor: Actor,
    action: str,
    note: str | None,
    records: Sequence[RecordRef],
) -> int:
    """Write one audit row and its record rows in the caller's transaction; the audit id."""
    inserted = connection.execute(
        sa.insert(audit_log).values(
            at=utc_now(),
            actor=_storable(actor.name),
            actor_kind=actor.kind.value,
            action=action,
            note=_storable(note) if note is not None else None,
        )
    ).inserted_primary_key
    assert inserted is not None
    audit_id = int(inserted[0])
    if records:
        rows = [{"audit_id": audit_id, **_ref_values(ref)} for ref in records]
        connection.execute(sa.insert(audit_records), rows)
    return audit_id


def _storable(text: str) -> str:
    # PostgreSQL text cannot hold U+0000; a pasted note must not fail the action it explains.
    return text.replace("\x00", "\ufffd")


def _ref_values(ref: RecordRef) -> dict[str, Any]:
    return {
        "error_id": ref.error_id,
        "conflict_id": ref.conflict_id,
        "run_id": ref.run_id,
        "entity": ref.entity,
        "canonical_id": ref.canonical_id,
        "source_system": ref.source_system,
        "source_id": ref.source_id,
    }


@dataclass(frozen=True)
class AuditFilter:
    """Which audit entries to list; unset fields do not filter."""

    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    canonical_ids: tuple[str, ...] = ()
    source_ids: tuple[str, ...] = ()
    error_ids: tuple[int, ...] = ()


def _record_match(where: AuditFilter) -> sa.ColumnElement[bool] | None:
    """Entries touching any of the named records (journeys ask by every id they know)."""
    refs = audit_records.c
    matches: list[sa.ColumnElement[bool]] = []
    if where.canonical_ids:
        matches.append(refs.canonical_id.in_(where.canonical_ids))
    if where.source_ids:
        matches.append(refs.source_id.in_(where.source_ids))
    if where.error_ids:
        matches.append(refs.error_id.in_(where.error_ids))
    if not matches:
        return None
    return audit_log.c.id.in_(sa.select(refs.audit_id).where(sa.or_(*matches)))


def list_audit(
    connection: sa.Connection, where: AuditFilter | None = None, limit: int | None = 100
) -> list[AuditEntry]:
    """Matching entries, newest first, each with the records it touched."""
    where = where or AuditFilter()
    query = sa.select(audit_log).order_by(audit_log.c.id.desc())
    if where.actor is not None:
        query = query.where(audit_log.c.actor == where.actor)
    if where.action is not None:
        query = query.where(audit_log.c.action == where.action)
    if where.since is not None:
        query = query.where(audit_log.c.at >= where.since)
    touching = _record_match(where)
    if touching is not None:
        query = query.where(touching)
    if limit is not None:
        query = query.limit(limit)
    rows = list(connection.execute(query))
    refs = _refs_of(connection, [row.id for row in rows])
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            actor=row.actor,
            actor_kind=row.actor_kind,
            action=row.action,
            note=row.note,
            records=tuple(refs.get(row.id, ())),
        )
        for row in rows
    ]


def _refs_of(connection: sa.Connection, audit_ids: list[int]) -> dict[int, list[RecordRef]]:
    if not audit_ids:
        return {}
    query = (
        sa.select(audit_records)
        .where(audit_records.c.audit_id.in_(audit_ids))
        .order_by(audit_records.c.id)
    )
    found: dict[int, list[RecordRef]] = {}
    for row in connection.execute(query):
        found.setdefault(row.audit_id, []).append(
            RecordRef(
                entity=row.entity,
                canonical_id=row.canonical_id,
                source_system=row.source_system,
                source_id=row.source_id,
                error_id=row.error_id,
                conflict_id=row.conflict_id,
                run_id=row.run_id,
            )
        )
    return found
