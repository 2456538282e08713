"""``NatsSink.send_batch`` (what the publisher and ``events replay`` send with) against the real
JetStream server: a batch's acks in flight, the acknowledged prefix counted, a refusal in the
middle stopping the count there, and one at the start raising. Skipped locally without a NATS
server, failed under ``CI=true``."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import nats
import nats.js.errors
import pytest
from nats.js.api import StreamConfig

from config.events import NatsSinkSettings
from sync.events.nats_sink import NatsSink
from sync.store.outbox import ChangeType, OutboxEvent

NATS_URL = "nats://127.0.0.1:4222"


def _event(sequence: int, entity: str) -> OutboxEvent:
    return OutboxEvent(
        sequence=sequence, event_id=str(uuid.uuid4()), flow="quote-to-cash", entity=entity,
        change=ChangeType.CREATED, subject=f"{entity}-{sequence}", run_id=1,
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
        data={"record": {"id": sequence, "note": "<b>\x1b[31m"}, "changes": {}, "ids": {}},
    )  # fmt: skip


async def _admin(name: str, subjects: list[str] | None, *, delete: bool = False) -> int:
    """Create the stream (``subjects``), or count what it holds (None), or delete it."""
    client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
    try:
        stream = client.jetstream()
        if subjects is not None:
            await stream.add_stream(StreamConfig(name=name, subjects=subjects))
            return 0
        if delete:
            await stream.delete_stream(name)
            return 0
        return int((await stream.stream_info(name)).state.messages)
    finally:
        await client.close()


@pytest.fixture
def orders_only() -> Iterator[tuple[NatsSinkSettings, str]]:
    """A sink whose stream takes order subjects only: invoice events find no stream."""
    token = uuid.uuid4().hex[:10]
    prefix, name = f"rbbatch{token}", f"RBBATCH_{token}"
    try:
        asyncio.run(_admin(name, [f"{prefix}.order.>"]))
    except (OSError, TimeoutError, nats.errors.Error) as error:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"NATS JetStream at {NATS_URL} is unreachable under CI: {error!r}")
        pytest.skip(f"NATS JetStream at {NATS_URL} is unreachable: {error!r}")
    settings = NatsSinkSettings(name="ops", url=NATS_URL, subject_prefix=prefix, timeout_seconds=5)
    yield settings, name
    asyncio.run(_admin(name, None, delete=True))


async def _send(settings: NatsSinkSettings, events: list[OutboxEvent]) -> int:
    async with NatsSink(settings) as sink:
        return await sink.send_batch(events)


def test_a_whole_batch_is_acknowledged_and_a_repeat_is_dropped_by_its_id(
    orders_only: tuple[NatsSinkSettings, str],
) -> None:
    settings, name = orders_only
    batch = [_event(n, "order") for n in range(1, 301)]
    assert asyncio.run(_send(settings, batch)) == 300
    assert asyncio.run(_send(settings, batch[:50])) == 50  # acknowledged as duplicates
    assert asyncio.run(_admin(name, None)) == 300


def test_a_refusal_mid_batch_counts_only_the_events_before_it(
    orders_only: tuple[NatsSinkSettings, str],
) -> None:
    settings, name = orders_only
    batch = [_event(1, "order"), _event(2, "order"), _event(3, "invoice"), _event(4, "order")]
    assert asyncio.run(_send(settings, batch)) == 2
    with pytest.raises(nats.js.errors.NoStreamResponseError):
        asyncio.run(_send(settings, [_event(5, "invoice"), _event(6, "order")]))
    # The orders after a refusal may be stored already; the next drain resends them and the
    # server drops the copies by Nats-Msg-Id.
    assert asyncio.run(_send(settings, [batch[3]])) == 1
    assert asyncio.run(_admin(name, None)) == 4  # orders 1, 2, 4 and 6, each once
