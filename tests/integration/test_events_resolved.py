"""``resolved`` change events on SQLite and PostgreSQL: one per open error-queue entry a later
run or a person closes, written in the closing transaction, only while a sink is configured."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.events.envelope import structured
from sync.events.schemas import event_schema
from sync.store import Store
from sync.store.audit import Actor, ActorKind
from sync.store.error_actions import close_errors
from sync.store.error_queue import QueuedError, list_errors, queue_error, resolve_landed
from sync.store.outbox import ChangeType, PageChanges, outbox_events, stored_event
from sync.store.outbox_resolutions import record_landed_resolutions
from sync.store.schema import ErrorStage, ErrorStatus

runner = CliRunner()
PERSON = Actor("ana", ActorKind.CLI_OS_USER)


def _queue(store: Store, source_id: str, target: str = "billing") -> None:
    error = QueuedError(
        flow="quote-to-cash", entity="order", source_system="salesforce", source_object="Order",
        source_id=source_id, stage=ErrorStage.WRITE, error_class="RecordRejected",
        message="<b>bad</b>", payload={"Id": source_id}, canonical_id=f"ord-{source_id}",
        target_system=target,
    )  # fmt: skip
    with store.transaction() as connection:
        queue_error(connection, error, 1)


def _events(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        query = sa.select(outbox_events).order_by(outbox_events.c.sequence)
        return [stored_event(row) for row in connection.execute(query)]


def _land(store: Store, source_ids: list[str]) -> None:
    page = PageChanges("quote-to-cash", "order", 7)
    with store.transaction() as connection:
        record_landed_resolutions(connection, page, "salesforce", source_ids)
        resolve_landed(connection, "order", "salesforce", source_ids)


def test_a_later_run_landing_a_record_announces_each_entry_it_resolves(store: Store) -> None:
    _queue(store, "sf-1", "billing")
    _queue(store, "sf-1", "erp")
    _queue(store, "sf-2")
    _land(store, ["sf-1", "sf-3"])
    events = _events(store)
    assert [(e.change, e.subject, e.run_id) for e in events] == [
        (ChangeType.RESOLVED, "ord-sf-1", 7),
        (ChangeType.RESOLVED, "ord-sf-1", 7),
    ]
    targets = {e.data["resolution"]["target_system"] for e in events}
    assert targets == {"billing", "erp"}
    assert all(e.data["resolution"]["resolved_by"] is None for e in events)
    assert events[0].data["ids"] == {"salesforce": "sf-1"}
    _land(store, ["sf-1"])  # already resolved: nothing more to announce
    assert len(_events(store)) == 2


def test_a_landing_whose_transaction_rolls_back_announces_nothing(store: Store) -> None:
    _queue(store, "sf-1")

    def failing_commit() -> None:
        with store.transaction() as connection:
            page = PageChanges("quote-to-cash", "order", 7)
            record_landed_resolutions(connection, page, "salesforce", ["sf-1"])
            raise RuntimeError("the page commit failed")

    with pytest.raises(RuntimeError):
        failing_commit()
    assert _events(store) == []
    with store.engine.connect() as connection:
        assert list_errors(connection)[0].status is ErrorStatus.OPEN


def test_a_person_resolving_entries_announces_the_open_ones_with_their_name(store: Store) -> None:
    _queue(store, "sf-1")
    _queue(store, "sf-2")
    with store.engine.connect() as connection:
        ids = [row.id for row in list_errors(connection)]
    with store.transaction() as connection:
        close_errors(connection, ids[:1], ErrorStatus.RESOLVED, PERSON, "fixed", record_events=True)
    with store.transaction() as connection:  # the closed one again, and the other one
        close_errors(connection, ids, ErrorStatus.RESOLVED, PERSON, "fixed", record_events=True)
    events = _events(store)
    assert [e.data["resolution"]["error_id"] for e in events] == [ids[0], ids[1]]
    assert {e.data["resolution"]["resolved_by"] for e in events} == {"ana"}
    assert {e.flow for e in events} == {"quote-to-cash"}


def test_ignoring_or_resolving_without_a_sink_announces_nothing(store: Store) -> None:
    _queue(store, "sf-1")
    _queue(store, "sf-2")
    with store.engine.connect() as connection:
        first, second = [row.id for row in list_errors(connection)]
    with store.transaction() as connection:
        close_errors(connection, [first], ErrorStatus.IGNORED, PERSON, "n/a", record_events=True)
        close_errors(connection, [second], ErrorStatus.RESOLVED, PERSON, "ok")
    assert _events(store) == []


def test_a_hostile_source_id_is_announced_as_is_and_the_envelope_keeps_it_as_data(
    store: Store,
) -> None:
    hostile = "sf-\x1b[31m<script>[bold]x[/bold]\u202e" + "9" * 10
    _queue(store, hostile)
    _land(store, [hostile])
    [event] = _events(store)
    assert event.data["ids"]["salesforce"] == hostile
    envelope = json.loads(structured(event))
    assert envelope["type"] == "com.revbridge.order.resolved"
    assert envelope["data"]["resolution"]["stage"] == ErrorStage.WRITE.value
    schema = event_schema("order", ChangeType.RESOLVED)
    data_schema = schema["properties"]["data"]
    assert set(data_schema["required"]) <= set(envelope["data"])
    assert "resolution" in data_schema["required"]


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SandboxSize(accounts=8, orders=40, products=5)) as running:
        yield running


def _config(tmp_path: Path, sandboxes: Sandboxes, database_url: str, sinks: bool) -> Path:
    document = sandboxes.settings_document(database_url)
    sink = {"name": "ops", "url": "nats://127.0.0.1:9", "timeout_seconds": 1}
    document["events"] = {"sinks": [sink] if sinks else []}
    path = tmp_path / f"revbridge-{uuid.uuid4().hex[:6]}.yaml"
    write_sandbox_config(path, document)
    return path


@pytest.mark.parametrize("sinks", [True, False])
def test_errors_resolve_announces_each_open_entry_of_a_real_sync_only_with_a_sink(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, sinks: bool
) -> None:
    config = _config(tmp_path, sandboxes, database_url, sinks)
    assert runner.invoke(app, ["run", "--config", str(config), "--no-publish"]).exit_code == 0
    store = Store(database_url)
    with store.engine.connect() as connection:
        open_entries = list_errors(connection, status=ErrorStatus.OPEN, limit=None)
    assert open_entries  # the sandbox data has rejections
    before = len(_events(store))
    outcome = runner.invoke(app, ["errors", "resolve", "--all", "--config", str(config)])
    assert outcome.exit_code == 0, outcome.output
    resolved = [e for e in _events(store) if e.change is ChangeType.RESOLVED]
    store.close()
    assert len(resolved) == (len(open_entries) if sinks else 0)
    assert (before > 0) is sinks  # the run itself recorded events only with a sink
    if sinks:
        ids = {e.data["resolution"]["error_id"] for e in resolved}
        assert ids == {entry.id for entry in open_entries}
