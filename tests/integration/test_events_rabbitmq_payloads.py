"""The RabbitMQ sink against the real broker, on both databases, without a sync: hostile
payloads arrive byte-exact, and an exchange declared with another type is one clear line."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pika
import pytest

from config.events import EventsSettings, RabbitMqSinkSettings
from sync.events.envelope import structured
from sync.events.publisher import publish_sink, sink_filter
from sync.store import Store
from sync.store.outbox import pending_events, sink_status
from tests.integration.events_webhook_harness import write_events
from tests.integration.test_events_rabbitmq import AMQP_URL, Exchange, exchange
from tests.integration.test_events_webhook import HOSTILE

__all__ = ["exchange"]  # the fixture, shared with the sync tests


def _settings(exchange_name: str) -> RabbitMqSinkSettings:
    sink = {"name": "bus", "type": "rabbitmq", "url": AMQP_URL, "exchange": exchange_name}
    [settings] = EventsSettings.model_validate({"sinks": [sink]}).sinks
    assert isinstance(settings, RabbitMqSinkSettings)
    return settings


def _raw_bodies(exchange: Exchange) -> list[bytes]:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    bodies: list[bytes] = []
    try:
        channel = connection.channel()
        while True:
            method, _, body = channel.basic_get(exchange.queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    finally:
        connection.close()


def test_hostile_payloads_arrive_byte_exact(store: Store, exchange: Exchange) -> None:
    ids = write_events(store, HOSTILE)
    settings = _settings(exchange.name)
    with store.engine.connect() as connection:
        expected = [structured(e) for e in pending_events(connection, sink_filter(settings), 9)]

    report = publish_sink(store, settings, batch_size=2)

    assert (report.published, report.error) == (len(ids), None)
    assert _raw_bodies(exchange) == expected


@pytest.fixture
def direct_exchange() -> Iterator[str]:
    name = f"rbtest.direct.{uuid.uuid4().hex[:12]}"
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.exchange_declare(name, exchange_type="direct", durable=True)
    yield name
    channel.exchange_delete(name)
    connection.close()


def test_an_exchange_of_another_type_is_refused_in_one_line_and_events_wait(
    store: Store, exchange: Exchange, direct_exchange: str
) -> None:
    write_events(store, [{"id": "ord-1"}, {"id": "ord-2"}])
    settings = _settings(direct_exchange)

    report = publish_sink(store, settings, batch_size=10)

    assert report.published == 0
    assert report.error is not None
    assert "refused the exchange" in report.error
    assert "PRECONDITION_FAILED" in report.error
    assert "\n" not in report.error
    with store.engine.connect() as connection:
        status = sink_status(connection, sink_filter(settings))
    assert (status.pending, status.failures) == (2, 1)
