"""Retention of the outbox: published events are kept ``events.retention_days`` for replay,
then deleted with their delivery rows.

An event is pruned only when every configured sink that takes it (by its filters) has
acknowledged it: an event still pending or dead-lettered for any sink stays, however old. The
newest event always stays too: on SQLite a table's next sequence is one past its highest row,
and a reused sequence would look published to a sink that acknowledged its namesake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from sync.store.database import Store
from sync.store.outbox import SinkFilter, outbox_deliveries, outbox_events
from sync.store.outbox_replay import EventSelection

# Events deleted per transaction: short transactions leave the page commits room.
PRUNE_CHUNK = 5_000


def _still_needed(selection: SinkFilter) -> sa.ColumnElement[bool]:
    """The event is one the sink takes and has not acknowledged."""
    takes = EventSelection(
        selection.flows, selection.entities, [change.value for change in selection.changes]
    ).where()
    delivered = sa.exists(
        sa.select(outbox_deliveries.c.sequence).where(
            outbox_deliveries.c.sink == selection.sink,
            outbox_deliveries.c.sequence == outbox_events.c.sequence,
        )
    )
    return sa.and_(sa.true(), *takes, ~delivered)


def _prunable(
    connection: sa.Connection, sinks: Sequence[SinkFilter], before: datetime, after: int
) -> list[int]:
    newest = sa.select(sa.func.max(outbox_events.c.sequence)).scalar_subquery()
    query = sa.select(outbox_events.c.sequence).where(
        outbox_events.c.sequence > after,
        outbox_events.c.sequence < newest,
        outbox_events.c.occurred_at < before,
    )
    if sinks:
        query = query.where(~sa.or_(*(_still_needed(sink) for sink in sinks)))
    query = query.order_by(outbox_events.c.sequence).limit(PRUNE_CHUNK)
    return [int(sequence) for sequence in connection.execute(query).scalars()]


def prune_chunk(
    connection: sa.Connection, sinks: Sequence[SinkFilter], before: datetime, after: int = 0
) -> list[int]:
    """Delete up to :data:`PRUNE_CHUNK` events written before ``before`` that every sink in
    ``sinks`` is done with (past sequence ``after``); the sequences deleted, in order."""
    sequences = _prunable(connection, sinks, before, after)
    if sequences:
        connection.execute(
            sa.delete(outbox_deliveries).where(outbox_deliveries.c.sequence.in_(sequences))
        )
        connection.execute(sa.delete(outbox_events).where(outbox_events.c.sequence.in_(sequences)))
    return sequences


def prune_outbox(store: Store, sinks: Sequence[SinkFilter], before: datetime) -> int:
    """Delete, chunk by chunk, every event :func:`prune_chunk` may; how many it deleted."""
    deleted, after = 0, 0
    while True:
        with store.transaction() as connection:
            sequences = prune_chunk(connection, sinks, before, after)
        if not sequences:
            return deleted
        deleted, after = deleted + len(sequences), sequences[-1]
