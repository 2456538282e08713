"""Republish stored events to a sink, with the ids they were first sent with.

A replay reads the outbox from a date, in sequence order, through the sink's own filters and
the replay's, and sends each event again as it was: same CloudEvents ``id``, same
``Nats-Msg-Id``. JetStream therefore drops a replayed event the stream still remembers (its
duplicate window, 2 minutes by default): replay into a stream whose window has passed, or to a
new stream. A replay changes no delivery state: pending events stay pending for the publisher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import nats.errors

from config.events import SinkSettings
from connectors.errors import ConnectorError
from sync.events.publisher import open_sink
from sync.store import Store
from sync.store.outbox_replay import EventSelection, events_since


@dataclass(frozen=True)
class ReplayReport:
    """What one replay to one sink sent."""

    sink: str
    sent: int
    error: str | None = None  # why it stopped early


def sink_selection(settings: SinkSettings) -> EventSelection:
    """The events a sink takes at all, by its settings' filters."""
    return EventSelection(settings.flows, settings.entities, settings.types)


async def _replay(
    store: Store,
    settings: SinkSettings,
    since: datetime,
    selections: Sequence[EventSelection],
    batch_size: int,
) -> ReplayReport:
    after, sent = 0, 0
    async with open_sink(settings) as sink:
        while True:
            with store.engine.connect() as connection:
                batch = events_since(connection, selections, since, after, batch_size)
            if not batch:
                return ReplayReport(settings.name, sent)
            outcome = await sink.send_batch(batch)
            sent += len(outcome.sent)
            if outcome.settled < len(batch):
                stopped = batch[outcome.settled]
                return ReplayReport(settings.name, sent, f"stopped at event {stopped.event_id}")
            after = batch[-1].sequence


def replay_to_sink(
    store: Store,
    settings: SinkSettings,
    since: datetime,
    selection: EventSelection,
    batch_size: int,
) -> ReplayReport:
    """Send again every event since ``since`` that the sink and ``selection`` both take."""
    selections = [sink_selection(settings), selection]
    try:
        return asyncio.run(_replay(store, settings, since, selections, batch_size))
    except (OSError, TimeoutError, nats.errors.Error, ConnectorError) as error:
        text = str(error).strip() or "no detail"  # class and message: never the URL
        return ReplayReport(settings.name, 0, f"{type(error).__name__}: {text}"[:500])
