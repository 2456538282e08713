"""A NATS JetStream sink: one subject per entity and change type, deduplicated by event id.

An event counts as sent only once JetStream acknowledged it (a stored message); the
``Nats-Msg-Id`` header set to the event id lets the server drop a repeat inside its duplicate
window, when a publisher dies between the ack and marking the event published.
"""

from __future__ import annotations

from types import TracebackType

import nats
from nats.aio.client import Client
from nats.js.client import JetStreamContext

from config.events import NatsSinkSettings
from sync.events.envelope import CONTENT_TYPE, structured
from sync.store.outbox import OutboxEvent


def subject_for(settings: NatsSinkSettings, event: OutboxEvent) -> str:
    """``<prefix>.<entity>.<change>``, e.g. ``revbridge.order.updated``."""
    return f"{settings.subject_prefix}.{event.entity}.{event.change.value}"


class NatsSink:
    """One connection to a NATS server for one drain of the outbox (``async with``)."""

    def __init__(self, settings: NatsSinkSettings) -> None:
        """Keep the settings; :meth:`__aenter__` connects."""
        self.settings = settings
        self._client: Client | None = None
        self._stream: JetStreamContext | None = None

    async def __aenter__(self) -> NatsSink:
        """Connect once, with no reconnect loop: a down broker must fail fast, not stall."""
        self._client = await nats.connect(
            self.settings.url,
            connect_timeout=self.settings.timeout_seconds,
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
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
