"""An outbox event as a CloudEvents 1.0 envelope, in JSON structured mode.

The envelope's ``id`` is the outbox row's ``event_id``, written once with the change: every
retry and every sink sends the same id, so consumers (and JetStream's ``Nats-Msg-Id``
window) can drop repeats.
"""

from __future__ import annotations

from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

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


def to_cloudevent(event: OutboxEvent) -> CloudEvent:
    """The CloudEvent for one outbox event (same id on every publish)."""
    attributes = {
        "id": event.event_id,
        "source": f"revbridge/{event.flow}",
        "type": event_type(event.entity, event.change.value),
        "subject": event.subject,
        "time": event.occurred_at,
        "datacontenttype": "application/json",
        "dataschema": schema_uri(event.entity, event.change.value),
    }
    return CloudEvent(attributes, event_data(event))


def structured(event: OutboxEvent) -> bytes:
    """The event in CloudEvents JSON structured mode, as sent to every sink."""
    return _FORMAT.write(to_cloudevent(event))
