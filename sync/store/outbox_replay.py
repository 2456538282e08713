"""Reading the outbox again: events as they are written (``events tail``) and since a date
(``events replay``), whether or not a sink already acknowledged them.

Both read by sequence. On PostgreSQL two flows committing at once can make sequence 10
visible before 9, so :func:`events_after` looks back a window behind the highest sequence it
returned and leaves out what the caller already saw.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.outbox import OutboxEvent, outbox_events, stored_event

# How far behind the highest sequence seen a late commit is still picked up.
LOOKBACK = 1_000


@dataclass(frozen=True)
class EventSelection:
    """Which events to read: flows, entities and change names (each empty: all)."""

    flows: Collection[str] = ()
    entities: Collection[str] = ()
    changes: Collection[str] = ()

    def where(self) -> list[sa.ColumnElement[bool]]:
        """The SQL conditions of this selection."""
        table = outbox_events.c
        conditions: list[sa.ColumnElement[bool]] = []
        if self.flows:
            conditions.append(table.flow.in_(sorted(self.flows)))
        if self.entities:
            conditions.append(table.entity.in_(sorted(self.entities)))
        if self.changes:
            conditions.append(table.change.in_(sorted(self.changes)))
        return conditions


def last_sequence(connection: sa.Connection) -> int:
    """The highest sequence written so far (0 for an empty outbox)."""
    found = connection.execute(sa.select(sa.func.max(outbox_events.c.sequence))).scalar_one()
    return int(found or 0)


def latest_events(
    connection: sa.Connection, selection: EventSelection, count: int
) -> list[OutboxEvent]:
    """The last ``count`` events the selection takes, oldest first."""
    if count <= 0:
        return []
    query = (
        sa.select(outbox_events)
        .where(*selection.where())
        .order_by(outbox_events.c.sequence.desc())
        .limit(count)
    )
    return [stored_event(row) for row in reversed(list(connection.execute(query)))]


@dataclass
class TailPosition:
    """Where a tail stands: the highest sequence returned, and those returned near it.

    ``start`` is where it began: it never looks back past it.
    """

    highest: int = 0
    start: int = 0
    seen: set[int] = field(default_factory=set)

    def advance(self, events: list[OutboxEvent]) -> None:
        """Remember ``events`` and forget what fell out of the look-back window."""
        self.seen.update(event.sequence for event in events)
        self.highest = max([self.highest, *(event.sequence for event in events)])
        floor = max(self.highest - LOOKBACK, self.start)
        self.seen = {sequence for sequence in self.seen if sequence > floor}


def events_after(
    connection: sa.Connection, selection: EventSelection, position: TailPosition, limit: int
) -> list[OutboxEvent]:
    """Events written since ``position`` (late commits within the window included), in order.

    Advances ``position`` past what it returns.
    """
    floor = max(position.highest - LOOKBACK, position.start)
    # Sequences first: an idle poll then reads the window's numbers, not its events' data.
    window = (
        sa.select(outbox_events.c.sequence)
        .where(outbox_events.c.sequence > floor, *selection.where())
        .order_by(outbox_events.c.sequence)
        .limit(limit + len(position.seen))
    )
    unseen = [s for s in connection.execute(window).scalars() if s not in position.seen][:limit]
    if not unseen:
        return []
    query = (
        sa.select(outbox_events)
        .where(outbox_events.c.sequence.in_(unseen))
        .order_by(outbox_events.c.sequence)
    )
    events = [stored_event(row) for row in connection.execute(query)]
    position.advance(events)
    return events


def events_since(
    connection: sa.Connection,
    selections: Sequence[EventSelection],
    since: datetime,
    after_sequence: int,
    limit: int,
) -> list[OutboxEvent]:
    """Up to ``limit`` events written at or after ``since`` past ``after_sequence`` that every
    one of ``selections`` takes, in sequence order."""
    conditions = [condition for selection in selections for condition in selection.where()]
    query: sa.Select[Any] = (
        sa.select(outbox_events)
        .where(
            outbox_events.c.occurred_at >= since,
            outbox_events.c.sequence > after_sequence,
            *conditions,
        )
        .order_by(outbox_events.c.sequence)
        .limit(limit)
    )
    return [stored_event(row) for row in connection.execute(query)]
