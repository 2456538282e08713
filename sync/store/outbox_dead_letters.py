"""Events a sink gave up on: dead-lettered per sink, shown by `events status`, requeued on demand.

A webhook endpoint that refused an event on every attempt gets it dead-lettered, for that sink
only: the drain moves on to the next event, and other sinks are not affected. The outbox's
pending reads leave dead-lettered events out; :func:`requeue_dead_letters` puts them back, and
the next drain sends them again with the same event ids, before anything newer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sync.store.id_lists import one_of
from sync.store.schema import UtcDateTime, metadata, utc_now
from sync.store.upsert import upsert_rows

outbox_dead_letters = sa.Table(
    "outbox_dead_letters",
    metadata,
    sa.Column("sink", sa.String(80), primary_key=True),
    sa.Column("sequence", sa.Integer(), primary_key=True),
    # Kept here too, so requeueing by id needs no join with the outbox.
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("last_error", sa.Text(), nullable=False),
    sa.Column("dead_lettered_at", UtcDateTime(), nullable=False),
)


@dataclass(frozen=True)
class DeadLetterRow:
    """One event a sink gave up on."""

    sink: str
    sequence: int
    event_id: str
    attempts: int
    last_error: str
    dead_lettered_at: datetime


@dataclass(frozen=True)
class NewDeadLetter:
    """What the publisher hands over for an event it gave up on."""

    sequence: int
    event_id: str
    attempts: int
    reason: str


def add_dead_letters(connection: sa.Connection, sink: str, dead: Sequence[NewDeadLetter]) -> None:
    """Dead-letter these events for ``sink``."""
    if not dead:
        return
    now = utc_now()
    rows = [
        {
            "sink": sink,
            "sequence": letter.sequence,
            "event_id": letter.event_id,
            "attempts": letter.attempts,
            "last_error": letter.reason[:2000],
            "dead_lettered_at": now,
        }
        for letter in dead
    ]
    # Idempotent, as marking an event published is: two drains may give up on the same one.
    upsert_rows(connection, outbox_dead_letters, rows, ("sink", "sequence"))


def dead_letter_count(connection: sa.Connection, sink: str) -> int:
    """How many events ``sink`` has dead-lettered."""
    query = sa.select(sa.func.count()).where(outbox_dead_letters.c.sink == sink)
    return int(connection.execute(query).scalar_one())


def dead_letters(connection: sa.Connection, sink: str, limit: int = 1000) -> list[DeadLetterRow]:
    """``sink``'s dead letters, oldest event first."""
    query = (
        sa.select(outbox_dead_letters)
        .where(outbox_dead_letters.c.sink == sink)
        .order_by(outbox_dead_letters.c.sequence)
        .limit(limit)
    )
    return [
        DeadLetterRow(
            row.sink, row.sequence, row.event_id, row.attempts, row.last_error,
            row.dead_lettered_at,
        )
        for row in connection.execute(query)
    ]  # fmt: skip


def requeue_dead_letters(
    connection: sa.Connection, sink: str, ids: Collection[str] | None = None
) -> int:
    """Make ``sink``'s dead letters (those with these event ids; None: all) pending again.

    The next drain sends them with their own ids, oldest first. Returns how many were requeued;
    ids that are not dead-lettered for the sink are ignored.
    """
    query = sa.delete(outbox_dead_letters).where(outbox_dead_letters.c.sink == sink)
    if ids is not None:
        if not ids:
            return 0
        query = query.where(one_of(connection, outbox_dead_letters.c.event_id, ids))
    return int(connection.execute(query).rowcount)
