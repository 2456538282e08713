"""Outbox events as CloudEvents 1.0 (JSON structured mode), and a JSON Schema per event type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from mappings.canonical import ENTITIES
from sync.cli.app import app
from sync.events.envelope import structured
from sync.events.schemas import event_schema
from sync.store.outbox import ChangeType, OutboxEvent

AT = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


def _event(change: ChangeType = ChangeType.UPDATED) -> OutboxEvent:
    data = {
        "record": {"id": "ord-1", "status": "activated"},
        "changes": {"status": {"old": "draft", "new": "activated"}},
        "ids": {"salesforce": "801A", "billing": "in_1"},
    }
    return OutboxEvent(7, "6f1c-id", "quote-to-cash", "order", change, "ord-1", 3, AT, data)


def test_the_envelope_carries_the_cloudevents_attributes_and_the_change() -> None:
    envelope = json.loads(structured(_event()))
    assert envelope["specversion"] == "1.0"
    assert envelope["id"] == "6f1c-id"
    assert envelope["source"] == "revbridge/quote-to-cash"
    assert envelope["type"] == "com.revbridge.order.updated"
    assert envelope["subject"] == "ord-1"
    assert envelope["dataschema"] == "urn:revbridge:events:com.revbridge.order.updated:v1"
    assert datetime.fromisoformat(envelope["time"].replace("Z", "+00:00")) == AT
    assert envelope["data"]["changes"] == {"status": {"old": "draft", "new": "activated"}}
    assert envelope["data"]["ids"] == {"salesforce": "801A", "billing": "in_1"}


def test_the_same_event_gives_the_same_bytes_on_every_retry() -> None:
    assert structured(_event()) == structured(_event())


def test_hostile_record_text_stays_data_in_valid_json() -> None:
    event = _event()
    event.data["record"]["name"] = '</script>"\x00\u2028' + "x" * 100_000
    envelope = json.loads(structured(event))
    assert envelope["data"]["record"]["name"].startswith('</script>"\x00\u2028')


def test_the_schema_of_an_update_names_the_type_and_the_canonical_fields() -> None:
    schema = event_schema("order", ChangeType.UPDATED)
    assert schema["properties"]["type"] == {"const": "com.revbridge.order.updated"}
    data = schema["properties"]["data"]
    assert set(data["required"]) >= {"flow", "record", "changes", "ids"}
    assert (
        "rejection" in event_schema("order", ChangeType.REJECTED)["properties"]["data"]["required"]
    )


def test_events_schema_writes_one_file_per_entity_and_change(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(app, ["events", "schema", "--out", str(tmp_path / "s")])
    assert outcome.exit_code == 0, outcome.output
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert len(files) == len(ENTITIES) * len(ChangeType)
    assert "com.revbridge.invoice.deleted.json" in files


def test_events_schema_into_an_unwritable_place_is_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    outcome = CliRunner().invoke(app, ["events", "schema", "--out", str(blocker / "sub")])
    assert outcome.exit_code == 2
    assert "cannot write schemas" in outcome.output
    assert "Traceback" not in outcome.output
