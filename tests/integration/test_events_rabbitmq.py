"""Change events of real syncs over the sandboxes, published to the real RabbitMQ broker
(127.0.0.1:5672, guest/guest) on SQLite and PostgreSQL.

Each test declares its own topic exchange and a queue bound to it, and deletes both after. A
broker that isn't reachable skips these tests locally and fails them under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.store import Store
from sync.store.outbox import outbox_events
from tests.integration.events_cli_harness import events_config

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SMALL = SandboxSize(accounts=8, orders=40, products=5)
runner = CliRunner()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Message:
    """One message as a consumer got it."""

    routing_key: str
    properties: Any
    envelope: dict[str, Any]


@dataclass(frozen=True)
class Exchange:
    """A test's own exchange, with a queue bound to everything published to it."""

    name: str
    queue: str

    def drain(self) -> list[Message]:
        """Every message in the queue, in the order the broker stored them."""
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            channel, messages = connection.channel(), list[Message]()
            while True:
                method, properties, body = channel.basic_get(self.queue, auto_ack=True)
                if method is None:
                    return messages
                messages.append(Message(method.routing_key, properties, json.loads(body)))
        finally:
            connection.close()


@pytest.fixture
def exchange(request: pytest.FixtureRequest) -> Iterator[Exchange]:
    token = uuid.uuid4().hex[:12]
    made = Exchange(f"rbtest.{token}", f"rbtest-{token}")
    binding = getattr(request, "param", "#")
    try:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    except pika.exceptions.AMQPError as error:
        if _in_ci():
            pytest.fail(f"RabbitMQ at 127.0.0.1:5672 is unreachable under CI: {error!r}")
        pytest.skip(f"RabbitMQ at 127.0.0.1:5672 is unreachable: {error!r}")
    channel = connection.channel()
    channel.exchange_declare(made.name, exchange_type="topic", durable=True)
    channel.queue_declare(made.queue)
    channel.queue_bind(made.queue, made.name, routing_key=binding)
    yield made
    channel.queue_delete(made.queue)
    channel.exchange_delete(made.name)
    connection.close()


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SMALL) as running:
        yield running


def _sink(exchange: Exchange, url: str = AMQP_URL, **filters: Any) -> dict[str, Any]:
    return {"name": "bus", "type": "rabbitmq", "url": url, "exchange": exchange.name,
            "timeout_seconds": 5, **filters}  # fmt: skip


def _outbox(database_url: str) -> list[sa.Row[Any]]:
    store = Store(database_url)
    with store.engine.connect() as connection:
        rows = list(connection.execute(sa.select(outbox_events).order_by(outbox_events.c.sequence)))
    store.close()
    return rows


def _status(config: Path) -> dict[str, Any]:
    outcome = runner.invoke(app, ["events", "status", "--config", str(config), "--json"])
    assert outcome.exit_code == 0, outcome.output
    [sink] = json.loads(outcome.output)
    return dict(sink)


def _assert_each_event_once_in_commit_order(
    messages: list[Message], rows: list[sa.Row[Any]]
) -> None:
    ids = [message.envelope["id"] for message in messages]
    assert sorted(ids) == sorted(row.event_id for row in rows)  # each once, none missing
    position = {row.event_id: row.sequence for row in rows}
    per_record: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        assert message.properties.message_id == message.envelope["id"]
        per_record[message.envelope["subject"]].append(position[message.envelope["id"]])
    assert all(seqs == sorted(seqs) for seqs in per_record.values())


def test_a_real_sync_publishes_each_change_once_persistent_and_in_order_per_record(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, exchange: Exchange
) -> None:
    config = events_config(tmp_path, sandboxes, database_url, [_sink(exchange)])

    outcome = runner.invoke(app, ["run", "--config", str(config)])

    assert outcome.exit_code == 0, outcome.output
    rows = _outbox(database_url)
    assert {"created", "rejected"} <= {row.change for row in rows}
    messages = exchange.drain()
    _assert_each_event_once_in_commit_order(messages, rows)
    first = messages[0]
    data = first.envelope["data"]
    assert first.routing_key == f"{data['entity']}.{data['change']}"
    assert first.properties.delivery_mode == 2  # persistent
    assert first.properties.content_type == "application/cloudevents+json"
    assert first.envelope["source"] == "revbridge/quote-to-cash"
    again = runner.invoke(app, ["run", "--config", str(config)])  # nothing changed since
    assert again.exit_code == 0, again.output
    assert exchange.drain() == []
    status = _status(config)
    assert (status["pending"], status["published"], status["failures"]) == (0, len(rows), 0)


@pytest.mark.parametrize("exchange", ["order.*"], indirect=True)
def test_filters_deliver_exactly_the_entities_and_types_they_name(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, exchange: Exchange
) -> None:
    sink = _sink(exchange, entities=["order"], types=["created"], flows=["quote-to-cash"])
    config = events_config(tmp_path, sandboxes, database_url, [sink])

    assert runner.invoke(app, ["run", "--config", str(config)]).exit_code == 0

    rows = _outbox(database_url)
    wanted = [r for r in rows if (r.entity, r.change) == ("order", "created")]
    assert wanted
    assert len(wanted) < len(rows)  # the filter left events out
    messages = exchange.drain()
    assert {message.routing_key for message in messages} == {"order.created"}
    _assert_each_event_once_in_commit_order(messages, wanted)


def test_a_broker_down_for_a_whole_run_never_fails_the_sync_and_its_events_wait_then_go(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, exchange: Exchange
) -> None:
    down = events_config(
        tmp_path, sandboxes, database_url, [_sink(exchange, "amqp://127.0.0.1:9/")]
    )

    outcome = runner.invoke(app, ["run", "--config", str(down)])

    assert outcome.exit_code == 0, outcome.output
    assert "Traceback" not in outcome.output
    rows = _outbox(database_url)
    status = _status(down)
    assert (status["pending"], status["published"], status["failures"]) == (len(rows), 0, 1)
    assert "cannot connect to RabbitMQ" in status["last_error"]
    assert exchange.drain() == []
    up = events_config(tmp_path, sandboxes, database_url, [_sink(exchange)])
    published = runner.invoke(app, ["events", "publish", "--config", str(up)])
    assert published.exit_code == 0, published.output
    _assert_each_event_once_in_commit_order(exchange.drain(), rows)


def test_wrong_credentials_are_one_line_that_never_shows_the_password(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, exchange: Exchange
) -> None:
    password = "Wr0ng-" + uuid.uuid4().hex
    sink = _sink(exchange, "amqp://127.0.0.1:5672/%2F", username="guest")
    sink["password"] = "${RB_TEST_AMQP_PASSWORD}"
    config = events_config(tmp_path, sandboxes, database_url, [sink])
    env = {"RB_TEST_AMQP_PASSWORD": password}

    ran = runner.invoke(app, ["run", "--config", str(config)], env=env)
    published = runner.invoke(app, ["events", "publish", "--config", str(config)], env=env)

    assert ran.exit_code == 0, ran.output
    assert published.exit_code == 1
    [line] = published.output.strip().splitlines()
    assert "refused the login" in line
    assert "events wait" in line
    warnings = [text for text in ran.output.splitlines() if "sink bus" in text]
    assert len(warnings) == 1
    assert "refused the login" in warnings[0]
    for output in (ran.output, published.output):
        assert password not in output
        assert "Traceback" not in output
    assert exchange.drain() == []


def test_a_mistyped_broker_url_is_one_configuration_line_and_exit_2(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, exchange: Exchange
) -> None:
    config = events_config(tmp_path, sandboxes, database_url, [_sink(exchange, "amqp//127.0.0.1")])

    outcome = runner.invoke(app, ["events", "publish", "--config", str(config)])

    assert outcome.exit_code == 2
    assert "url" in outcome.output
    assert "Traceback" not in outcome.output
