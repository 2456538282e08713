"""The drain reads the next batch while the current one's acks are awaited, on both databases.

A fake sink records what the store held each time a batch went out: the batch before must
already be marked published (commit order per record), and a batch acknowledged only in part
is sent again from its first unacknowledged event, before anything the drain read ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import pytest
import sqlalchemy as sa

from config.events import NatsSinkSettings
from sync.events import publisher
from sync.events.sink import BatchOutcome, EventSink
from sync.store import Store
from sync.store.outbox import (
    ChangeType,
    OutboxEvent,
    SinkFilter,
    event_row,
    outbox_deliveries,
    outbox_events,
    pending_events,
)

SINK = NatsSinkSettings.model_validate({"name": "nats", "type": "nats", "url": "nats://x:1"})


def _write(store: Store, count: int) -> list[int]:
    rows = [
        event_row("quote-to-cash", "order", 1, ChangeType.UPDATED, f"ord-{n % 3}", {"n": n})
        for n in range(count)
    ]
    with store.transaction() as connection:
        connection.execute(sa.insert(outbox_events), rows)
        query = sa.select(outbox_events.c.sequence).order_by(outbox_events.c.sequence)
        return list(connection.execute(query).scalars())


class _RecordingSink:
    """Acknowledges each batch whole, except the first ``short`` batch: only its first event."""

    def __init__(self, store: Store, short: bool) -> None:
        self.store, self.short = store, short
        self.sent: list[list[int]] = []
        self.acknowledged: set[int] = set()
        self.published_when_sent: list[tuple[set[int], set[int]]] = []  # (marked, acknowledged)

    async def __aenter__(self) -> EventSink:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:  # fmt: skip
        return None

    async def send_batch(self, events: Sequence[OutboxEvent]) -> BatchOutcome:
        with self.store.transaction() as connection:
            marked = connection.execute(sa.select(outbox_deliveries.c.sequence)).scalars()
            self.published_when_sent.append((set(marked), set(self.acknowledged)))
        self.sent.append([event.sequence for event in events])
        acknowledged = list(events[:1]) if self.short else list(events)
        self.short = False
        self.acknowledged |= {event.sequence for event in acknowledged}
        return BatchOutcome(sent=acknowledged)


def test_pending_events_after_a_sequence_skips_the_batch_in_flight(store: Store) -> None:
    sequences = _write(store, 5)
    with store.transaction() as connection:
        later = pending_events(connection, SinkFilter("nats"), 10, after=sequences[1])
    assert [event.sequence for event in later] == sequences[2:]


@pytest.mark.parametrize("short", [False, True], ids=["whole", "partly-acknowledged"])
def test_each_batch_goes_out_after_the_one_before_is_marked(
    store: Store, monkeypatch: pytest.MonkeyPatch, short: bool
) -> None:
    sequences = _write(store, 7)
    sink = _RecordingSink(store, short)
    monkeypatch.setattr(publisher, "open_sink", lambda settings: sink)
    report = publisher.publish_sink(store, SINK, batch_size=3)
    assert report.error is None
    assert report.published == 7
    sent = [sequence for batch in sink.sent for sequence in batch]
    if short:  # the unacknowledged rest of the first batch goes again, before the read-ahead
        assert sink.sent[:2] == [sequences[0:3], sequences[1:4]]
        assert sent[3:] == sequences[1:]  # then each event once, in order
    else:
        assert sink.sent == [sequences[0:3], sequences[3:6], sequences[6:7]]
    for marked, acknowledged in sink.published_when_sent:
        assert marked == acknowledged  # marked strictly after its acks, before the next send
