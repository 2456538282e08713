"""An outbox event as a CloudEvents 1.0 envelope, in JSON structured mode.

The envelope's ``id`` is the outbox row's ``event_id``, written once with the change: every
retry and every sink sends the same id, so consumers (and JetStream's ``Nats-Msg-Id``
window) can drop repeats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic_core import PydanticSerializationError, to_json

from sync.store.outbox import OutboxEvent

CONTENT_TYPE = JSONFormat.CONTENT_TYPE  # application/cloudevents+json
_FORMAT = JSONFormat()


def event_type(entity: str, change: str) -> str:
    """The CloudEvents type of a change, such as ``com.revbridge.order.updated``."""
    return f"com.revbridge.{entity}.{change}"


def schema_uri(entity: str, change: str) -> str:
    """The ``dataschema`` of an event type: the JSON Schema `events schema` writes for it."""
    return f"urn:revbridge:events:{event_type(entity, change)}:v1"


def event_data(event: OutboxEvent) -> dict[str, Any]:
    """The envelope's ``data``: the record, its changed fields and its id in each system."""
    data: dict[str, Any] = {
        "flow": event.flow,
        "entity": event.entity,
        "change": event.change.value,
        "record": event.data.get("record"),
        "changes": event.data.get("changes", {}),
        "ids": event.data.get("ids", {}),
    }
    for detail in ("rejection", "resolution"):  # why a record was queued, or how it left
        if detail in event.data:
            data[detail] = event.data[detail]
    return data


def _attributes(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "source": f"revbridge/{event.flow}",
        "type": event_type(event.entity, event.change.value),
        "subject": event.subject,
        "time": event.occurred_at,
        "datacontenttype": "application/json",
        "dataschema": schema_uri(event.entity, event.change.value),
    }


def to_cloudevent(event: OutboxEvent) -> CloudEvent:
    """The CloudEvent for one outbox event (same id on every publish)."""
    return CloudEvent(_attributes(event), event_data(event))


def _rfc3339(moment: datetime) -> str:
    # As the SDK's JSON format writes ``time``: ISO 8601 with UTC as ``Z``.
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def structured(event: OutboxEvent) -> bytes:
    """The event in CloudEvents JSON structured mode, as sent to every sink.

    The same envelope the SDK's :class:`JSONFormat` writes for :func:`to_cloudevent` (the
    attributes, ``specversion`` 1.0 and ``data``), encoded by pydantic-core: the SDK's
    attribute checks and json-module encoder were a quarter of a NATS drain's CPU
    (bench/events_bench.py). ``data`` came out of a JSON column, so it holds JSON's own types
    only; whatever the fast encoder refuses still goes through the SDK.
    """
    envelope = _attributes(event)
    envelope["time"] = _rfc3339(event.occurred_at)
    envelope["specversion"] = "1.0"
    envelope["data"] = event_data(event)
    try:
        return to_json(envelope, inf_nan_mode="constants")
    except (TypeError, ValueError, PydanticSerializationError):
        return _FORMAT.write(to_cloudevent(event))
