"""Drain the outbox to each configured sink, in commit order, at least once.

Each sink reads its own pending events in sequence order and stops at the first event it could
not send, so a record's later change is never delivered before an earlier one. Whatever fails
(broker down, no stream for the subject, a timeout) is counted against the sink and the events
wait in the outbox for the next drain: publishing never fails or holds up a sync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import nats.errors

from config.events import EventsSettings, NatsSinkSettings
from sync.events.nats_sink import NatsSink
from sync.store import Store
from sync.store.outbox import (
    ChangeType,
    SinkFilter,
    mark_published,
    note_failure,
    pending_events,
)

log = logging.getLogger("revbridge.events")


@dataclass(frozen=True)
class PublishReport:
    """What one drain of one sink did."""

    sink: str
    published: int
    error: str | None = None  # why it stopped early; its events wait for the next drain


def sink_filter(settings: NatsSinkSettings) -> SinkFilter:
    """The outbox selection a sink's settings name."""
    changes = [ChangeType(name) for name in settings.types]
    return SinkFilter(settings.name, settings.flows, settings.entities, changes)


def _reason(error: BaseException) -> str:
    # The class and message only: a broker URL may carry credentials, the message does not.
    text = str(error).strip() or "no detail"
    return f"{type(error).__name__}: {text}"[:500]


async def _drain(store: Store, settings: NatsSinkSettings, batch_size: int) -> PublishReport:
    selection, published = sink_filter(settings), 0
    async with NatsSink(settings) as sink:
        while True:
            with store.transaction() as connection:
                batch = pending_events(connection, selection, batch_size)
            if not batch:
                return PublishReport(settings.name, published)
            sent: list[int] = []
            try:
                for event in batch:
                    await sink.send(event)
                    sent.append(event.sequence)
            finally:
                with store.transaction() as connection:
                    mark_published(connection, settings.name, sent)
                published += len(sent)


def publish_sink(store: Store, settings: NatsSinkSettings, batch_size: int) -> PublishReport:
    """Send the sink's pending events until none is left or the sink fails."""
    try:
        return asyncio.run(_drain(store, settings, batch_size))
    except (OSError, TimeoutError, nats.errors.Error) as error:  # the sink failed: events wait
        reason = _reason(error)
        with store.transaction() as connection:
            note_failure(connection, settings.name, reason)
        log.warning("events for sink %s wait in the outbox: %s", settings.name, reason)
        return PublishReport(settings.name, 0, reason)


def publish_all(store: Store, settings: EventsSettings) -> Sequence[PublishReport]:
    """Drain the outbox once to every configured sink."""
    return [publish_sink(store, sink, settings.batch_size) for sink in settings.sinks]
