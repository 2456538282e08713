"""What every event sink offers the publisher, and how a blocking sink runs under its drain.

A sink sends a batch of outbox events in order and says which it settled: acknowledged
(``sent``) or given up on after its retries (``dead``, dead-lettered for that sink only). It
raises :class:`SinkUnavailable` (or its library's connection error) when it could not settle
even the first event: the drain stops and the events wait in the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, TypeVar

from connectors.errors import TransientError
from sync.store.outbox import OutboxEvent

_Result = TypeVar("_Result")


class SinkUnavailable(TransientError):
    """The sink could not be reached or refused the connection: its events wait."""


class EventUndeliverable(TransientError):
    """One event failed every attempt while the sink itself answered: dead-letter it."""

    def __init__(self, message: str, *, system: str = "", attempts: int) -> None:
        super().__init__(message, system=system)
        self.attempts = attempts


@dataclass(frozen=True)
class DeadLetter:
    """An event a sink gave up on, with why."""

    event: OutboxEvent
    attempts: int
    reason: str


@dataclass
class BatchOutcome:
    """The events of a batch a sink settled, from the first one, in order."""

    sent: list[OutboxEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    @property
    def settled(self) -> int:
        """How many events from the start of the batch this covers."""
        return len(self.sent) + len(self.dead)


class EventSink(Protocol):
    """A connection to one sink for one drain of the outbox (``async with``)."""

    async def __aenter__(self) -> EventSink: ...

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...

    async def send_batch(self, events: Sequence[OutboxEvent]) -> BatchOutcome:
        """Send ``events`` in order; raise if not even the first could be settled."""
        ...


class BlockingSink(Protocol):
    """A sink written against a blocking client library (requests, for webhooks)."""

    def open(self) -> None:
        """Connect; raise :class:`SinkUnavailable` with a line safe to show."""

    def close(self) -> None:
        """Disconnect, quietly."""

    def send(self, event: OutboxEvent) -> None:
        """Deliver one event or raise :class:`SinkUnavailable`/:class:`EventUndeliverable`."""


def settle(sink: BlockingSink, events: Sequence[OutboxEvent]) -> BatchOutcome:
    """Send ``events`` one by one; stop at a sink that went away after the first."""
    outcome = BatchOutcome()
    for event in events:
        try:
            sink.send(event)
        except EventUndeliverable as refused:
            outcome.dead.append(DeadLetter(event, refused.attempts, str(refused)))
            continue
        except SinkUnavailable:
            if outcome.settled == 0:
                raise
            return outcome  # the rest waits; the next read starts at the unsent event
        outcome.sent.append(event)
    return outcome


class InWorkerThread:
    """Runs a blocking sink on one thread of its own, so the drain's event loop stays free.

    One thread, always the same: the sink's client (a requests Session) is not shared.
    """

    def __init__(self, sink: BlockingSink) -> None:
        """Wrap ``sink``; :meth:`__aenter__` opens it."""
        self.sink = sink
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="revbridge-sink")

    async def _call(self, work: Callable[[], _Result]) -> _Result:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    async def __aenter__(self) -> InWorkerThread:
        """Open the sink on its thread."""
        try:
            await self._call(self.sink.open)
        except BaseException:
            self._thread.shutdown(wait=False)
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close the sink, then its thread."""
        try:
            await self._call(self.sink.close)
        finally:
            self._thread.shutdown(wait=False)

    async def send_batch(self, events: Sequence[OutboxEvent]) -> BatchOutcome:
        """Settle ``events`` on the sink's thread."""
        return await self._call(lambda: settle(self.sink, events))
