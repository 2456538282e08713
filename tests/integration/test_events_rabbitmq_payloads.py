"""The RabbitMQ sink against the real broker, on both databases, without a sync: hostile
payloads arrive byte-exact, an exchange declared with another type is one clear line, and
confirms lost after the broker took the messages mean a resend with the same ids."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
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


_BASIC_PUBLISH = b"\x00\x3c\x00\x28"  # AMQP method frame payload: class 60 (basic), method 40


class ConfirmSwallowingProxy:
    """A TCP proxy to the broker that stops passing the broker's frames back once the client
    published: the messages land, their confirms (and every later reply) are lost."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.replies_cut = threading.Event()
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                broker = socket.create_connection(("127.0.0.1", 5672))
                self._sockets += [client, broker]
                threading.Thread(
                    target=self._pump, args=(client, broker, True), daemon=True
                ).start()
                threading.Thread(
                    target=self._pump, args=(broker, client, False), daemon=True
                ).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        tail = b""  # the end of the previous chunk: a frame may straddle two reads
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if from_client and _BASIC_PUBLISH in tail + chunk:
                    self.replies_cut.set()  # before the publish goes on: no confirm gets back
                if from_client or not self.replies_cut.is_set():
                    target.sendall(chunk)
                tail = chunk[-3:]

    def close(self) -> None:
        for each in self._sockets:
            with contextlib.suppress(OSError):
                each.close()


def test_confirms_lost_after_the_broker_took_the_messages_resend_them_with_the_same_ids(
    store: Store, exchange: Exchange
) -> None:
    ids = write_events(store, [{"id": f"ord-{n % 3}", "n": n} for n in range(6)])
    proxy = ConfirmSwallowingProxy()
    try:
        swallowed = _settings(exchange.name).model_copy(
            update={"url": f"amqp://127.0.0.1:{proxy.port}/%2F", "timeout_seconds": 1.0}
        )
        lost = publish_sink(store, swallowed, batch_size=10)
    finally:
        proxy.close()
    again = publish_sink(store, _settings(exchange.name), batch_size=10)

    assert proxy.replies_cut.is_set()
    assert (lost.published, again.published) == (0, 6)
    assert lost.error is not None
    assert "did not answer in time" in lost.error
    received = [json.loads(body)["id"] for body in _raw_bodies(exchange)]
    assert received == ids + ids  # at least once: each twice, in commit order both times
    assert list(dict.fromkeys(received)) == ids  # deduped by id: exactly once
