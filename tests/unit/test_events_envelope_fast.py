"""The fast structured-mode writer says exactly what the cloudevents SDK writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from sync.events.envelope import structured, to_cloudevent
from sync.store.outbox import ChangeType, OutboxEvent

AT = datetime(2026, 12, 7, 10, 30, 5, 123456, tzinfo=UTC)
HOSTILE = '</script><b>[red]x[/red]</b>"\\\x00\x1f\u2028é中🙂'


def _event(change: ChangeType, data: dict[str, object], at: datetime = AT) -> OutboxEvent:
    return OutboxEvent(9, "e-1", "quote-to-cash", "invoice", change, "inv-1", None, at, data)


CASES = [
    _event(ChangeType.CREATED, {"record": {"id": "inv-1", "total": 1.5, "lines": [1, None]},
                                "changes": {}, "ids": {"billing": "in_1"}}),
    _event(ChangeType.UPDATED, {"record": {"name": HOSTILE * 50}, "ids": {},
                                "changes": {"name": {"old": None, "new": HOSTILE}}}),
    _event(ChangeType.REJECTED, {"record": None, "changes": {}, "ids": {"sf": HOSTILE},
                                 "rejection": {"stage": "map", "message": HOSTILE}}),
    _event(ChangeType.RESOLVED, {"record": None, "resolution": {"how": "retried"}}),
    _event(ChangeType.DELETED, {"record": {"big": 10**30, "neg": -0.0}},
           AT.astimezone(timezone(timedelta(hours=-5)))),
]  # fmt: skip


@pytest.mark.parametrize("event", CASES, ids=[c.change.value for c in CASES])
def test_the_envelope_is_the_one_the_sdk_writes(event: OutboxEvent) -> None:
    sdk = json.loads(JSONFormat().write(to_cloudevent(event)))
    assert json.loads(structured(event)) == sdk


def test_the_sdk_reads_the_envelope_back_as_the_same_event() -> None:
    event = CASES[1]
    read = JSONFormat().read(CloudEvent, structured(event))
    assert read.get_attributes() == to_cloudevent(event).get_attributes()
    assert read.get_data() == to_cloudevent(event).get_data()


def test_a_value_the_fast_encoder_refuses_goes_to_the_sdk_which_refuses_it_too() -> None:
    event = _event(ChangeType.UPDATED, {"record": {"at": object()}, "changes": {}, "ids": {}})
    with pytest.raises(TypeError, match="not JSON serializable"):  # the SDK's own message
        structured(event)
