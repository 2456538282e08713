"""The console's reads and action on the outbox: each sink's state, its dead letters with the
event they hold back, and a replay of them, audited in the same transaction as the requeue.

A replay only requeues: the next drain (``serve``'s, ``run``'s or ``events publish``) sends the
events again with their own ids, oldest first, as :mod:`sync.store.outbox_dead_letters` says.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from config.events import NatsSinkSettings, RabbitMqSinkSettings, WebhookSinkSettings
from sync.store.audit import Actor, AuditAction, RecordRef, record_action
from sync.store.finding_actions import InvalidNote, clean_note
from sync.store.outbox import outbox_events
from sync.store.outbox_dead_letters import outbox_dead_letters, requeue_dead_letters

AnySinkSettings = NatsSinkSettings | RabbitMqSinkSettings | WebhookSinkSettings


@dataclass(frozen=True)
class DeadLetterLine:
    """One dead letter with the event it holds back: what the console lists and replays."""

    sink: str
    sequence: int
    event_id: str
    flow: str
    entity: str
    change: str
    subject: str
    attempts: int
    reason: str
    dead_lettered_at: datetime


@dataclass(frozen=True)
class DeadLetterKey:
    """Where a page of dead letters ends: the next page starts after it."""

    sink: str
    sequence: int


def _lines_query() -> sa.Select[Any]:
    letters, events = outbox_dead_letters, outbox_events
    joined = letters.join(events, events.c.sequence == letters.c.sequence)
    columns = (
        letters.c.sink, letters.c.sequence, letters.c.event_id, events.c.flow, events.c.entity,
        events.c.change, events.c.subject, letters.c.attempts, letters.c.last_error,
        letters.c.dead_lettered_at,
    )  # fmt: skip
    return sa.select(*columns).select_from(joined)


def _line(row: sa.Row[Any]) -> DeadLetterLine:
    return DeadLetterLine(
        row.sink, row.sequence, row.event_id, row.flow, row.entity, row.change, row.subject,
        row.attempts, row.last_error, row.dead_lettered_at,
    )  # fmt: skip


def dead_letter_lines(
    connection: sa.Connection,
    sinks: Collection[str],
    after: DeadLetterKey | None = None,
    limit: int = 100,
) -> list[DeadLetterLine]:
    """These sinks' dead letters by sink, then oldest event first; keyset-paged after ``after``."""
    if not sinks:
        return []
    letters = outbox_dead_letters
    query = _lines_query().where(letters.c.sink.in_(sorted(sinks)))
    if after is not None:
        query = query.where(
            sa.or_(
                letters.c.sink > after.sink,
                sa.and_(letters.c.sink == after.sink, letters.c.sequence > after.sequence),
            )
        )
    query = query.order_by(letters.c.sink, letters.c.sequence).limit(limit)
    return [_line(row) for row in connection.execute(query)]


class ReplayRefused(ValueError):
    """A replay that cannot be done; the message says why, in one line."""


class NoSuchDeadLetter(ReplayRefused):
    """The sink holds no dead letter with this event id (never, or already replayed)."""


def _replay_note(note: str) -> str:
    if not note.strip():
        raise ReplayRefused("the note is empty: say why the events are sent again")
    try:
        return clean_note(note)  # the same length cap and NUL handling as every console note
    except InvalidNote as problem:
        raise ReplayRefused(str(problem)) from None


def replay_dead_letters(
    connection: sa.Connection, sink: str, event_id: str | None, *, actor: Actor, note: str
) -> list[DeadLetterLine]:
    """Requeue ``sink``'s dead letter ``event_id`` (None: all of them) and audit it with ``note``.

    Run it in a transaction: the requeue and its audit row (one record per event, by subject)
    commit together. Returns what was requeued; raises ReplayRefused (NoSuchDeadLetter for an
    id the sink does not hold, or a sink with none) with nothing written.
    """
    text = _replay_note(note)
    letters = outbox_dead_letters
    query = _lines_query().where(letters.c.sink == sink)
    if event_id is not None:
        query = query.where(letters.c.event_id == event_id)
    # Two people replaying at once: the second waits, then finds nothing left to requeue.
    query = query.order_by(letters.c.sequence).with_for_update(of=letters)
    lines = [_line(row) for row in connection.execute(query)]
    if not lines:
        what = "no dead letters" if event_id is None else "no dead letter with this event id"
        raise NoSuchDeadLetter(f"sink {sink} holds {what}")
    requeue_dead_letters(connection, sink, [line.event_id for line in lines])
    records = [RecordRef(entity=line.entity, canonical_id=line.subject) for line in lines]
    record_action(connection, actor, AuditAction.EVENT_REPLAY, text, records)
    return lines
