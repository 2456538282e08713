"""Outbox retention on SQLite and PostgreSQL: published events older than
``events.retention_days`` are pruned, by ``events prune`` and by serve's drain; an event still
pending or dead-lettered for any configured sink stays however old, and so does the newest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from config.events import EventsSettings
from sync.cli.app import app
from sync.cli.events import event_publisher
from sync.cli.sandboxes import Sandboxes
from sync.store import Store
from sync.store.outbox import SinkFilter, mark_published, outbox_deliveries, outbox_events
from sync.store.outbox_dead_letters import NewDeadLetter, add_dead_letters
from sync.store.outbox_prune import PRUNE_CHUNK, prune_outbox
from sync.store.schema import utc_now
from tests.integration.events_cli_harness import TINY, events_config, write_change

runner = CliRunner()
NOW = utc_now()
ORDERS_ONLY = SinkFilter("orders", entities=["order"])
EVERYTHING = SinkFilter("all")


def _age(store: Store, subjects: list[str], days: float) -> None:
    """Make these subjects' events ``days`` old."""
    with store.transaction() as connection:
        connection.execute(
            sa.update(outbox_events)
            .where(outbox_events.c.subject.in_(subjects))
            .values(occurred_at=NOW - timedelta(days=days))
        )


def _sequences(store: Store, subjects: list[str] | None = None) -> dict[str, int]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(outbox_events.c.subject, outbox_events.c.sequence))
        return {row.subject: row.sequence for row in rows}


def _publish(store: Store, sink: str, subjects: list[str]) -> None:
    sequences = _sequences(store)
    with store.transaction() as connection:
        mark_published(connection, sink, [sequences[subject] for subject in subjects])


def _deliveries(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).select_from(outbox_deliveries)
            ).scalar_one()
        )


def test_only_events_every_sink_is_done_with_and_past_retention_are_pruned(store: Store) -> None:
    write_change(store, "ord-done", {"id": "a"})
    write_change(store, "ord-pending", {"id": "b"})  # "all" has not sent it
    write_change(store, "inv-done", {"id": "c"}, entity="invoice")  # "orders" never takes it
    write_change(store, "ord-dead", {"id": "d"})  # "all" gave up on it
    write_change(store, "ord-recent", {"id": "e"})
    write_change(store, "ord-newest", {"id": "f"})
    every = ["ord-done", "ord-pending", "inv-done", "ord-dead", "ord-recent", "ord-newest"]
    _publish(store, "orders", ["ord-done", "ord-pending", "ord-dead", "ord-recent", "ord-newest"])
    _publish(store, "all", ["ord-done", "inv-done", "ord-recent", "ord-newest"])
    dead = _sequences(store)["ord-dead"]
    with store.transaction() as connection:
        add_dead_letters(connection, "all", [NewDeadLetter(dead, "x", 5, "HTTP 410")])
    _age(store, [s for s in every if s != "ord-recent"], days=8)
    _age(store, ["ord-recent"], days=6)
    pruned = prune_outbox(store, [ORDERS_ONLY, EVERYTHING], NOW - timedelta(days=7))
    assert pruned == 2
    assert set(_sequences(store)) == {"ord-pending", "ord-dead", "ord-recent", "ord-newest"}
    assert _deliveries(store) == 6  # of 9: the pruned events' three went with them


def test_with_no_sink_configured_age_alone_decides_and_the_newest_stays(store: Store) -> None:
    for number in range(3):
        write_change(store, f"ord-{number}", {"id": number})
    _age(store, ["ord-0", "ord-1", "ord-2"], days=30)
    assert prune_outbox(store, [], NOW - timedelta(days=7)) == 2
    write_change(store, "ord-3", {"id": 3})  # the sequence goes on past the kept newest one
    sequences = _sequences(store)
    assert sequences["ord-3"] > sequences["ord-2"]


def test_pruning_goes_chunk_by_chunk_past_events_that_must_stay(store: Store) -> None:
    rows = [
        {"event_id": f"e-{n}", "flow": "f", "entity": "order", "change": "created",
         "subject": f"s-{n}", "run_id": 1, "occurred_at": NOW - timedelta(days=9), "data": {}}
        for n in range(PRUNE_CHUNK + 10)
    ]  # fmt: skip
    with store.transaction() as connection:
        connection.execute(sa.insert(outbox_events), rows)
        first = int(
            connection.execute(sa.select(sa.func.min(outbox_events.c.sequence))).scalar_one()
        )
        published = range(first, first + PRUNE_CHUNK + 10)
        mark_published(connection, "all", [s for s in published if s != first + 3])
    pruned = prune_outbox(store, [EVERYTHING], NOW - timedelta(days=7))
    assert pruned == PRUNE_CHUNK + 10 - 2  # the unpublished one and the newest stay
    assert set(_sequences(store)) == {"s-3", f"s-{PRUNE_CHUNK + 9}"}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(TINY) as running:
        yield running


def test_events_prune_deletes_what_the_configured_sinks_published_past_retention(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str
) -> None:
    sink = {"name": "ops", "url": "nats://127.0.0.1:9", "entities": ["order"]}
    config = events_config(tmp_path, sandboxes, database_url, [sink], retention_days=2)
    store = Store(database_url)
    for subject in ("ord-1", "ord-2", "ord-3"):
        write_change(store, subject, {"id": subject})
    _publish(store, "ops", ["ord-1", "ord-3"])
    _age(store, ["ord-1", "ord-2", "ord-3"], days=3)
    outcome = runner.invoke(app, ["events", "prune", "--config", str(config), "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.output) == {"pruned": 1}
    assert set(_sequences(store)) == {"ord-2", "ord-3"}
    text = runner.invoke(app, ["events", "prune", "--config", str(config)])
    assert text.output.strip() == "pruned 0 published events older than 2 days"
    store.close()


def test_serve_drain_prunes_at_most_once_an_hour(store: Store) -> None:
    sink = {"name": "ops", "url": "nats://127.0.0.1:9", "timeout_seconds": 1}
    settings = EventsSettings.model_validate({"sinks": [sink], "retention_days": 1})
    publish = event_publisher(settings)
    assert publish is not None
    for subject in ("ord-1", "ord-2", "ord-3"):
        write_change(store, subject, {"id": subject})
    _publish(store, "ops", ["ord-1", "ord-2"])
    _age(store, ["ord-1"], days=2)
    publish(store)  # the broker is down: nothing published, the old published one pruned
    assert set(_sequences(store)) == {"ord-2", "ord-3"}
    _age(store, ["ord-2"], days=2)
    publish(store)  # within the hour: no second prune
    assert set(_sequences(store)) == {"ord-2", "ord-3"}
