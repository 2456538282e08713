"""A NATS JetStream sink: one subject per entity and change type, deduplicated by event id.

An event counts as sent only once JetStream acknowledged it (a stored message); the
``Nats-Msg-Id`` header set to the event id lets the server drop a repeat inside its duplicate
window, when a publisher dies between the ack and marking the event published.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any

import nats
from nats.aio.client import Client
from nats.js.client import JetStreamContext

from config.events import NatsSinkSettings
from sync.events.envelope import CONTENT_TYPE, structured
from sync.store.outbox import OutboxEvent


def subject_for(settings: NatsSinkSettings, event: OutboxEvent) -> str:
    """``<prefix>.<entity>.<change>``, e.g. ``revbridge.order.updated``."""
    return f"{settings.subject_prefix}.{event.entity}.{event.change.value}"


async def _connect_once(url: str, timeout: float) -> Client:
    """Connect, or raise the first connection error within ``timeout``.

    nats-py retries an unreachable server forever even with reconnects off (2.16), logging a
    traceback each time: its first error ends the attempt here instead.
    """
    failed: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

    async def first_error(error: Exception) -> None:
        if not failed.done():
            failed.set_result(error)

    connecting = asyncio.ensure_future(
        nats.connect(
            url, connect_timeout=timeout, allow_reconnect=False, max_reconnect_attempts=0,
            error_cb=first_error,
        )
    )  # fmt: skip
    racing: set[asyncio.Future[Any]] = {connecting, failed}
    done, _ = await asyncio.wait(racing, timeout=timeout, return_when="FIRST_COMPLETED")
    if connecting in done:
        return connecting.result()
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await connecting
    raise failed.result() if failed.done() else TimeoutError(f"no NATS server within {timeout}s")


class NatsSink:
    """One connection to a NATS server for one drain of the outbox (``async with``)."""

    def __init__(self, settings: NatsSinkSettings) -> None:
        """Keep the settings; :meth:`__aenter__` connects."""
        self.settings = settings
        self._client: Client | None = None
        self._stream: JetStreamContext | None = None

    async def __aenter__(self) -> NatsSink:
        """Connect once, with no reconnect loop: a down broker must fail fast, not stall."""
        self._client = await _connect_once(self.settings.url, self.settings.timeout_seconds)
        self._stream = self._client.jetstream(timeout=self.settings.timeout_seconds)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close the connection (already gone when the server went away)."""
        if self._client is not None and not self._client.is_closed:
            await self._client.close()

    async def send(self, event: OutboxEvent) -> None:
        """Publish one event and wait for JetStream's acknowledgement (raises if none)."""
        assert self._stream is not None, "use NatsSink in `async with`"
        headers = {"Nats-Msg-Id": event.event_id, "Content-Type": CONTENT_TYPE}
        await self._stream.publish(
            subject_for(self.settings, event), structured(event), headers=headers
        )
