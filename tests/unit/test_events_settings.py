"""The `events:` settings section: sinks with filters, typos refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.events import EventsSettings


def test_a_nats_sink_takes_flows_entities_and_types_as_filters() -> None:
    settings = EventsSettings.model_validate(
        {"sinks": [{"name": "ops", "flows": ["q2c"], "entities": ["order"], "types": ["deleted"]}]}
    )
    [sink] = settings.sinks
    assert (sink.type, sink.url, sink.subject_prefix) == (
        "nats",
        "nats://127.0.0.1:4222",
        "revbridge",
    )
    assert (sink.flows, sink.entities, sink.types) == (["q2c"], ["order"], ["deleted"])


@pytest.mark.parametrize(
    "sink",
    [
        {"name": "ops", "typ": ["created"]},  # a typo'd key
        {"name": "ops", "types": ["paid"]},  # not a change type
        {"name": "Ops Sink"},  # not a subject-safe name
        {"name": "ops", "subject_prefix": "rev.>"},  # a wildcard would publish nowhere useful
        {"name": "ops", "type": "kafka"},
        {"name": "ops", "timeout_seconds": 0},
    ],
)
def test_a_mistyped_sink_is_refused(sink: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EventsSettings.model_validate({"sinks": [sink]})
