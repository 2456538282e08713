"""Prometheus metrics of change events on SQLite and PostgreSQL: written, published and failed
per sink, pending and dead-lettered, and the oldest pending event's age; from the collector and
from a real ``serve``'s /metrics after it published a run's events to a down broker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from config.events import EventsSettings
from sync.cli.sandboxes import Sandboxes
from sync.events.metrics import EventsCollector, PublishedCounts
from sync.events.publisher import PublishReport
from sync.store import Store
from sync.store.outbox import mark_published, note_failure, outbox_events
from sync.store.outbox_dead_letters import NewDeadLetter, add_dead_letters
from sync.store.schema import utc_now
from tests.integration.events_cli_harness import TINY, write_change
from tests.serve_harness import ServeProcess, write_serve_config

DOWN = "nats://127.0.0.1:9"


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("sink", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _settings() -> EventsSettings:
    sinks = [
        {"name": "orders", "url": DOWN, "entities": ["order"]},
        {"name": "all", "url": DOWN},
    ]
    return EventsSettings.model_validate({"sinks": sinks})


def test_the_collector_reports_each_sinks_backlog_failures_and_what_was_published(
    store: Store,
) -> None:
    for subject in ("ord-1", "ord-2", "inv-1"):
        entity = "invoice" if subject.startswith("inv") else "order"
        write_change(store, subject, {"id": subject}, entity=entity)
    with store.transaction() as connection:
        rows = list(connection.execute(sa.select(outbox_events).order_by(outbox_events.c.sequence)))
        connection.execute(
            sa.update(outbox_events)
            .where(outbox_events.c.sequence == rows[1].sequence)
            .values(occurred_at=utc_now() - timedelta(minutes=10))
        )
        mark_published(connection, "orders", [rows[0].sequence])
        add_dead_letters(connection, "all", [NewDeadLetter(rows[2].sequence, "x", 3, "410")])
        note_failure(connection, "all", "ConnectionRefusedError: down")
        note_failure(connection, "all", "ConnectionRefusedError: down")
    counts = PublishedCounts()
    counts.add([PublishReport("orders", 1), PublishReport("all", 0, "down")])
    counts.add([PublishReport("orders", 2)])
    registry = CollectorRegistry()
    registry.register(EventsCollector(store, _settings(), counts))
    samples = _samples(registry)
    assert samples[("revbridge_events_written_total", "")] == rows[2].sequence
    assert samples[("revbridge_events_published_total", "orders")] == 3
    assert samples[("revbridge_events_published_total", "all")] == 0
    assert samples[("revbridge_events_failed_total", "all")] == 2
    assert samples[("revbridge_events_failed_total", "orders")] == 0
    assert samples[("revbridge_events_pending", "orders")] == 1  # ord-2; inv-1 isn't its
    assert samples[("revbridge_events_pending", "all")] == 2  # the dead letter waits apart
    assert samples[("revbridge_events_dead_lettered", "all")] == 1
    assert 590 <= samples[("revbridge_events_oldest_pending_age_seconds", "orders")] < 900


def test_a_store_that_cannot_be_read_still_answers_the_scrape(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'events.db'}")
    with store.transaction() as connection:
        connection.execute(sa.text("DROP TABLE outbox_events"))
    registry = CollectorRegistry()
    registry.register(EventsCollector(store, _settings(), PublishedCounts()))
    samples = _samples(registry)
    store.close()
    assert samples[("revbridge_events_published_total", "all")] == 0
    assert not any(name == "revbridge_events_written_total" for name, _ in samples)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(TINY) as running:
        yield running


def test_serve_metrics_show_the_events_a_run_left_waiting_for_a_down_broker(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str
) -> None:
    sink = {"name": "ops", "url": DOWN, "timeout_seconds": 1}
    config = write_serve_config(
        tmp_path / "serve.yaml", sandboxes, database_url, events={"sinks": [sink]}
    )
    serve = ServeProcess(config)
    try:
        serve.wait_for(lambda line: "wait in the outbox" in str(line["message"]))
        text = requests.get(f"http://127.0.0.1:{serve.port()}/metrics", timeout=10).text
        assert serve.terminate() == 0
    finally:
        serve.close()
    store = Store(database_url)
    with store.engine.connect() as connection:
        written = connection.execute(sa.select(sa.func.count()).select_from(outbox_events))
        count = written.scalar_one()
    store.close()
    assert count > 0
    samples = {
        (sample.name, sample.labels.get("sink", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("revbridge_events_pending", "ops")] == count
    assert samples[("revbridge_events_failed_total", "ops")] >= 1
    assert samples[("revbridge_events_published_total", "ops")] == 0
    assert samples[("revbridge_events_oldest_pending_age_seconds", "ops")] > 0
