"""Resolving entries in the console writes one ``resolved`` change event per open entry, with
the person's name, while a sink is configured; ignoring writes none (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from config.events import EventsSettings
from sync.console.context import ConsoleContext
from sync.store import Store
from sync.store.outbox import ChangeType, OutboxEvent, outbox_events, stored_event
from tests.console.conftest import ConsoleClient
from tests.console.error_rows import error_values, insert_errors


@pytest.fixture
def console_context(console_context: ConsoleContext) -> ConsoleContext:
    """The console's context with a NATS sink configured (never reached: nothing publishes)."""
    sink = {"name": "ops", "url": "nats://127.0.0.1:9"}
    console_context.settings.events = EventsSettings.model_validate({"sinks": [sink]})
    return console_context


def _events(store: Store) -> list[OutboxEvent]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(outbox_events).order_by(outbox_events.c.sequence))
        return [stored_event(row) for row in rows]


def test_resolving_in_the_console_announces_each_open_entry_and_ignoring_does_not(
    store: Store, support_client: ConsoleClient
) -> None:
    with store.transaction() as connection:
        insert_errors(connection, [error_values(n) for n in (1, 2, 3)])
    resolved = support_client.post(
        "/errors/actions", data={"action": "resolve", "ids": ["1", "2"], "note": "fixed by hand"}
    )
    assert resolved.status_code == 200, resolved.text
    ignored = support_client.post(
        "/errors/actions", data={"action": "ignore", "ids": "3", "note": "a test record"}
    )
    assert ignored.status_code == 200, ignored.text
    events = _events(store)
    assert [event.change for event in events] == [ChangeType.RESOLVED, ChangeType.RESOLVED]
    assert [event.data["resolution"]["error_id"] for event in events] == [1, 2]
    assert {event.data["resolution"]["resolved_by"] for event in events} == {"support-user"}
