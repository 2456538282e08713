"""Drain the outbox to each configured sink, in commit order, at least once.

Each sink reads its own pending events in sequence order and stops at the first event it could
not send, so a record's later change is never delivered before an earlier one. Whatever fails
(broker down, no stream for the subject, a timeout) is counted against the sink and the events
wait in the outbox for the next drain: publishing never fails or holds up a sync. A webhook
endpoint that answers but refuses one event on every attempt gets that event dead-lettered for
the sink, and the drain goes on with the next (see :mod:`sync.store.outbox_dead_letters`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import nats.errors

from config.events import (
    EventsSettings,
    NatsSinkSettings,
    RabbitMqSinkSettings,
    SinkSettings,
    WebhookSinkSettings,
)
from connectors.errors import ConnectorError
from sync.events.nats_sink import NatsSink
from sync.events.rabbitmq_sink import RabbitMqSink
from sync.events.sink import BatchOutcome, EventSink, InWorkerThread
from sync.events.webhook_sink import WebhookSink
from sync.store import Store
from sync.store.outbox import (
    OutboxEvent,
    SinkFilter,
    mark_published,
    note_failure,
    pending_events,
    sink_filter,
)
from sync.store.outbox_dead_letters import NewDeadLetter, add_dead_letters

log = logging.getLogger("revbridge.events")


@dataclass(frozen=True)
class PublishReport:
    """What one drain of one sink did."""

    sink: str
    published: int
    error: str | None = None  # why it stopped early; its events wait for the next drain
    dead_lettered: int = 0  # events given up on in this drain


def _reason(error: BaseException) -> str:
    # The class and message only: a broker URL may carry credentials, the message does not.
    text = str(error).strip() or "no detail"
    return f"{type(error).__name__}: {text}"[:500]


class _NatsBatches:
    """The NATS sink as an :class:`EventSink`: every event is acknowledged, none dead-lettered."""

    def __init__(self, settings: NatsSinkSettings) -> None:
        self._sink = NatsSink(settings)

    async def __aenter__(self) -> _NatsBatches:
        await self._sink.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self._sink.__aexit__(kind, error, trace)

    async def send_batch(self, events: Sequence[OutboxEvent]) -> BatchOutcome:
        # The acknowledged prefix (the whole batch's acks in flight); raises if none was.
        acknowledged = await self._sink.send_batch(events)
        return BatchOutcome(sent=list(events[:acknowledged]))


def open_sink(settings: SinkSettings) -> EventSink:
    """The sink its settings describe, not yet connected (``async with`` it)."""
    if isinstance(settings, RabbitMqSinkSettings):
        return RabbitMqSink(settings)
    if isinstance(settings, WebhookSinkSettings):
        return InWorkerThread(WebhookSink(settings))
    return _NatsBatches(settings)


def _settle(store: Store, sink: str, outcome: BatchOutcome) -> None:
    """Record in one transaction what the sink acknowledged and what it gave up on."""
    dead = [
        NewDeadLetter(letter.event.sequence, letter.event.event_id, letter.attempts, letter.reason)
        for letter in outcome.dead
    ]
    with store.transaction() as connection:
        mark_published(connection, sink, [event.sequence for event in outcome.sent])
        add_dead_letters(connection, sink, dead)
    for letter in outcome.dead:
        log.warning(
            "events: sink %s dead-lettered event %s: %s",
            sink,
            letter.event.event_id,
            letter.reason,
        )


@dataclass
class _Progress:
    """What a drain settled so far, kept when the sink fails halfway through."""

    published: int = 0
    dead_lettered: int = 0


def _pending(
    store: Store, selection: SinkFilter, batch_size: int, after: int | None = None
) -> list[OutboxEvent]:
    with store.transaction() as connection:
        return pending_events(connection, selection, batch_size, after)


async def _handed_over() -> None:
    # Two turns of the loop: the send task queues its batch, then nats-py's flusher writes it
    # to the socket; only then is a blocking read of the next batch time the broker works in.
    for _ in range(2):
        await asyncio.sleep(0)


async def _drain(
    store: Store, settings: SinkSettings, batch_size: int, progress: _Progress
) -> None:
    """Send batch after batch; each is read while the one before awaits its acks.

    A batch is sent only once the one before is settled (marked published strictly after its
    acks, so a record's events still go out in commit order). A batch not wholly settled is
    read again from its first unsettled event instead of the read-ahead.
    """
    selection = sink_filter(settings)
    async with open_sink(settings) as sink:
        batch = _pending(store, selection, batch_size)
        while batch:
            sending = asyncio.ensure_future(sink.send_batch(batch))
            await _handed_over()
            following = _pending(store, selection, batch_size, after=batch[-1].sequence)
            outcome = await sending
            _settle(store, settings.name, outcome)
            progress.published += len(outcome.sent)
            progress.dead_lettered += len(outcome.dead)
            if outcome.settled < len(batch):
                following = _pending(store, selection, batch_size)
            batch = following


def publish_sink(store: Store, settings: SinkSettings, batch_size: int) -> PublishReport:
    """Send the sink's pending events until none is left or the sink fails."""
    progress = _Progress()
    try:
        asyncio.run(_drain(store, settings, batch_size, progress))
    except (OSError, TimeoutError, nats.errors.Error, ConnectorError) as error:
        reason = _reason(error)  # the sink failed: its events wait
        with store.transaction() as connection:
            note_failure(connection, settings.name, reason)
        log.warning("events for sink %s wait in the outbox: %s", settings.name, reason)
        return PublishReport(settings.name, progress.published, reason, progress.dead_lettered)
    return PublishReport(settings.name, progress.published, None, progress.dead_lettered)


def publish_all(store: Store, settings: EventsSettings) -> Sequence[PublishReport]:
    """Drain the outbox once to every configured sink."""
    return [publish_sink(store, sink, settings.batch_size) for sink in settings.sinks]
