"""The transactional outbox: one event per canonical change, written with the page it describes.

The page commit calls :func:`record_page_events` inside its own transaction, so an event exists
exactly when its change committed: a crash loses neither, and never publishes a change that
rolled back. Publishers read pending events per sink in sequence order and mark each one
published once the sink acknowledged it (at-least-once; consumers dedupe by ``event_id``).

Delivery is tracked per (sink, event) rather than by a per-sink high-water mark: on PostgreSQL
two flows committing at once can make sequence 10 visible before 9, and a mark would skip 9.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa

from sync.store.error_queue import QueuedError
from sync.store.id_lists import one_of
from sync.store.outbox_dead_letters import dead_letter_count, outbox_dead_letters
from sync.store.records import XrefEntry
from sync.store.schema import (
    JsonColumn,
    UtcDateTime,
    canonical_records,
    metadata,
    plain_json_text,
    utc_now,
    xref,
)
from sync.store.upsert import upsert_rows


class ChangeType(StrEnum):
    """What happened to a canonical record (the last part of the event type)."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    REJECTED = "rejected"
    RESOLVED = "resolved"  # an error-queue entry closed (sync/store/outbox_resolutions.py)


outbox_events = sa.Table(
    "outbox_events",
    metadata,
    # Commit order per writer: events of one record are read back in the order they happened.
    sa.Column("sequence", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("flow", sa.String(80), nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("change", sa.String(20), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("data", JsonColumn, nullable=False),
)

# One row per event a sink acknowledged.
outbox_deliveries = sa.Table(
    "outbox_deliveries",
    metadata,
    sa.Column("sink", sa.String(80), primary_key=True),
    sa.Column("sequence", sa.Integer(), primary_key=True),
    sa.Column("published_at", UtcDateTime(), nullable=False),
)

# Per sink: the failures so far and the last one's reason, for `events status`.
outbox_sinks = sa.Table(
    "outbox_sinks",
    metadata,
    sa.Column("sink", sa.String(80), primary_key=True),
    sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("last_failed_at", UtcDateTime(), nullable=True),
    sa.Column("last_published_at", UtcDateTime(), nullable=True),
)


@dataclass(frozen=True)
class PageChanges:
    """A page's canonical changes, as the page commit hands them over (plain data)."""

    flow: str
    entity: str
    run_id: int
    rows: Sequence[dict[str, Any]] = ()  # canonical_records rows about to be saved
    deleted_ids: Collection[str] = ()
    errors: Sequence[QueuedError] = ()
    xrefs: Sequence[XrefEntry] = ()  # ids the page's deliveries got in each target


@dataclass(frozen=True)
class OutboxEvent:
    """One stored event."""

    sequence: int
    event_id: str
    flow: str
    entity: str
    change: ChangeType
    subject: str
    run_id: int | None
    occurred_at: datetime
    data: dict[str, Any] = field(repr=False)


def _payload(value: Any) -> dict[str, Any]:
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = sorted(set(old) | set(new))
    return {
        name: {"old": old.get(name), "new": new.get(name)}
        for name in names
        if old.get(name) != new.get(name)
    }


def _stored(connection: sa.Connection, ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The payloads stored now (before the page's upsert) of the live records among ``ids``."""
    table = canonical_records
    query = sa.select(table.c.canonical_id, table.c.payload).where(
        one_of(connection, table.c.canonical_id, ids), table.c.is_deleted.is_(False)
    )
    return {row.canonical_id: _payload(row.payload) for row in connection.execute(query)}


def _system_ids(
    connection: sa.Connection, ids: Collection[str], new: Sequence[XrefEntry]
) -> dict[str, dict[str, str]]:
    query = sa.select(xref.c.canonical_id, xref.c.system, xref.c.external_id).where(
        one_of(connection, xref.c.canonical_id, ids)
    )
    found: dict[str, dict[str, str]] = {}
    for row in connection.execute(query):
        found.setdefault(row.canonical_id, {})[row.system] = row.external_id
    for entry in new:
        found.setdefault(entry.canonical_id, {})[entry.system] = entry.external_id
    return found


def _row(
    page: PageChanges, change: ChangeType, subject: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "flow": page.flow,
        "entity": page.entity,
        "change": change.value,
        "subject": _storable(subject)[:255],
        "run_id": page.run_id,
        "occurred_at": utc_now(),
        # Serialized here by pydantic-core, ~3x the json module's speed on a record: the
        # outbox row is written for every change of every page (bench/events_bench.py).
        "data": plain_json_text(data),
    }


def event_row(
    flow: str, entity: str, run_id: int | None, change: ChangeType, subject: str,
    data: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """A new outbox row (a fresh event id, now), for events other modules write."""
    row = _row(PageChanges(flow, entity, 0), change, subject, data)
    return {**row, "run_id": run_id}


def storable_text(text: str) -> str:
    """``text`` as both databases can store it in the outbox."""
    return _storable(text)


def _record_events(
    page: PageChanges, old: dict[str, dict[str, Any]], ids: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for row in page.rows:
        canonical_id = row["canonical_id"]
        new = _payload(row["payload"])
        system_ids = {row["source_system"]: row["source_id"], **ids.get(canonical_id, {})}
        before = old.get(canonical_id)
        change = ChangeType.CREATED if before is None else ChangeType.UPDATED
        changes = _changes(before or {}, new)
        if not changes:
            continue  # re-stored with the same canonical values: no change to announce
        data = {"record": new, "changes": changes, "ids": system_ids}
        events.append(_row(page, change, canonical_id, data))
    for canonical_id in page.deleted_ids:
        gone = {"record": old.get(canonical_id), "changes": {}, "ids": ids.get(canonical_id, {})}
        events.append(_row(page, ChangeType.DELETED, canonical_id, gone))
    return events


def _storable(text: str) -> str:
    # PostgreSQL text and JSONB cannot hold U+0000; a rejected record's id is whatever the
    # source sent, and its rejection must still be announced.
    return text.replace("\x00", "\ufffd")


def _rejected_event(page: PageChanges, error: QueuedError) -> dict[str, Any]:
    rejection = {
        "stage": error.stage.value,
        "error_class": error.error_class,
        "message": _storable(error.message),
        "target_system": error.target_system or None,
        "code": error.code or None,
    }
    ids = {error.source_system: _storable(error.source_id)}
    data = {"record": None, "changes": {}, "ids": ids, "rejection": rejection}
    return _row(page, ChangeType.REJECTED, error.canonical_id or error.source_id, data)


def record_page_events(connection: sa.Connection, page: PageChanges) -> None:
    """Write one event per change of the page, in the page commit's transaction.

    Call it before the page's records are saved: an update's old values are read from the
    store as it was.
    """
    touched = [row["canonical_id"] for row in page.rows] + list(page.deleted_ids)
    old = _stored(connection, touched) if touched else {}
    ids = _system_ids(connection, touched, page.xrefs) if touched else {}
    events = _record_events(page, old, ids)
    events += [_rejected_event(page, error) for error in page.errors]
    if events:
        connection.execute(sa.insert(outbox_events), events)


@dataclass(frozen=True)
class SinkFilter:
    """Which events one sink takes: flows, entities and change types (each empty: all)."""

    sink: str
    flows: Collection[str] = ()
    entities: Collection[str] = ()
    changes: Collection[ChangeType] = ()


class SinkScope(Protocol):
    """What every sink's settings name: the sink and the flows, entities and changes it takes."""

    @property
    def name(self) -> str: ...
    @property
    def flows(self) -> Sequence[str]: ...
    @property
    def entities(self) -> Sequence[str]: ...
    @property
    def types(self) -> Sequence[str]: ...


def sink_filter(sink: SinkScope) -> SinkFilter:
    """The outbox selection a sink's settings name (for the publisher and the console)."""
    changes = [ChangeType(name) for name in sink.types]
    return SinkFilter(sink.name, sink.flows, sink.entities, changes)


def _pending_query(selection: SinkFilter) -> sa.Select[Any]:
    delivered = sa.select(outbox_deliveries.c.sequence).where(
        outbox_deliveries.c.sink == selection.sink,
        outbox_deliveries.c.sequence == outbox_events.c.sequence,
    )
    # A dead-lettered event waits for a requeue, not for the next drain.
    dead = sa.select(outbox_dead_letters.c.sequence).where(
        outbox_dead_letters.c.sink == selection.sink,
        outbox_dead_letters.c.sequence == outbox_events.c.sequence,
    )
    query = sa.select(outbox_events).where(~sa.exists(delivered), ~sa.exists(dead))
    if selection.flows:
        query = query.where(outbox_events.c.flow.in_(sorted(selection.flows)))
    if selection.entities:
        query = query.where(outbox_events.c.entity.in_(sorted(selection.entities)))
    if selection.changes:
        query = query.where(outbox_events.c.change.in_(sorted(c.value for c in selection.changes)))
    return query


def _event(row: sa.Row[Any]) -> OutboxEvent:
    return OutboxEvent(
        sequence=row.sequence,
        event_id=row.event_id,
        flow=row.flow,
        entity=row.entity,
        change=ChangeType(row.change),
        subject=row.subject,
        run_id=row.run_id,
        occurred_at=row.occurred_at,
        data=_payload(row.data),
    )


def stored_event(row: sa.Row[Any]) -> OutboxEvent:
    """An ``outbox_events`` row as :class:`OutboxEvent`."""
    return _event(row)


def pending_events(
    connection: sa.Connection, selection: SinkFilter, limit: int, after: int | None = None
) -> list[OutboxEvent]:
    """The oldest events the sink has not acknowledged yet, in sequence (commit) order.

    ``after``: only those past this sequence (the batch still in flight, not yet marked).
    """
    query = _pending_query(selection).order_by(outbox_events.c.sequence).limit(limit)
    if after is not None:
        query = query.where(outbox_events.c.sequence > after)
    return [_event(row) for row in connection.execute(query)]


def mark_published(connection: sa.Connection, sink: str, sequences: Sequence[int]) -> None:
    """Record that ``sink`` acknowledged these events."""
    if not sequences:
        return
    now = utc_now()
    rows = [{"sink": sink, "sequence": s, "published_at": now} for s in sequences]
    # Idempotent: two replicas may drain the same sink at once and both send an event.
    upsert_rows(connection, outbox_deliveries, rows, ("sink", "sequence"))
    _touch_sink(connection, sink, {"last_published_at": now})


def note_failure(connection: sa.Connection, sink: str, reason: str) -> None:
    """Count one failed publish attempt of ``sink`` and keep its reason."""
    _touch_sink(connection, sink, {"last_error": reason[:2000], "last_failed_at": utc_now()})
    connection.execute(
        sa.update(outbox_sinks)
        .where(outbox_sinks.c.sink == sink)
        .values(failures=outbox_sinks.c.failures + 1)
    )


def _touch_sink(connection: sa.Connection, sink: str, values: dict[str, Any]) -> None:
    updated = connection.execute(
        sa.update(outbox_sinks).where(outbox_sinks.c.sink == sink).values(**values)
    )
    if updated.rowcount == 0:
        connection.execute(sa.insert(outbox_sinks).values(sink=sink, failures=0, **values))


@dataclass(frozen=True)
class SinkStatus:
    """How far one sink is behind."""

    sink: str
    pending: int
    published: int
    failures: int
    oldest_pending_at: datetime | None
    last_error: str | None
    dead_lettered: int = 0  # given up on; pending again only once requeued


def sink_status(connection: sa.Connection, selection: SinkFilter) -> SinkStatus:
    """Pending and published counts, failures and the oldest pending event's time."""
    pending = _pending_query(selection).subquery()
    count, oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(pending.c.occurred_at))
    ).one()
    published = connection.execute(
        sa.select(sa.func.count()).where(outbox_deliveries.c.sink == selection.sink)
    ).scalar_one()
    state = connection.execute(
        sa.select(outbox_sinks).where(outbox_sinks.c.sink == selection.sink)
    ).one_or_none()
    return SinkStatus(
        sink=selection.sink,
        pending=count,
        published=published,
        failures=state.failures if state else 0,
        oldest_pending_at=oldest,
        last_error=state.last_error if state else None,
        dead_lettered=dead_letter_count(connection, selection.sink),
    )
