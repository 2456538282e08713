"""A JSON Schema per event type, from the canonical models: what consumers can validate against.

Each schema describes the whole CloudEvents envelope in structured mode, with ``data`` typed by
the entity's canonical model, so a consumer learns the record's fields from one file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, create_model

from mappings.canonical import ENTITIES, CanonicalRecord
from sync.events.envelope import event_type, schema_uri
from sync.store.outbox import ChangeType


class FieldChange(BaseModel):
    """One changed field: its value before and after the change."""

    old: Any = None
    new: Any = None


class Rejection(BaseModel):
    """Why a record was queued instead of landing."""

    stage: str
    error_class: str
    message: str
    target_system: str | None = None
    code: str | None = None


class Resolution(BaseModel):
    """The error-queue entry a ``resolved`` event closes, and who closed it."""

    error_id: int
    stage: str
    error_class: str
    target_system: str | None = None
    resolved_by: str | None = None  # None: a later run landed the record


_NO_RECORD = (ChangeType.DELETED, ChangeType.REJECTED, ChangeType.RESOLVED)


def _data_model(entity: str, model: type[CanonicalRecord], change: ChangeType) -> type[BaseModel]:
    record: Any = (model | None) if change in _NO_RECORD else model
    fields: dict[str, Any] = {
        "flow": (str, ...),
        "entity": (str, entity),
        "change": (str, change.value),
        "record": (record, ...),
        "changes": (dict[str, FieldChange], ...),
        "ids": (dict[str, str], ...),
    }
    if change is ChangeType.REJECTED:
        fields["rejection"] = (Rejection, ...)
    if change is ChangeType.RESOLVED:
        fields["resolution"] = (Resolution, ...)
    name = f"{model.__name__}{change.value.title()}Data"
    created: type[BaseModel] = create_model(name, **fields)
    return created


def event_schema(entity: str, change: ChangeType) -> dict[str, Any]:
    """The JSON Schema of one event type's structured-mode envelope."""
    data = _data_model(entity, ENTITIES[entity], change).model_json_schema()
    kind = event_type(entity, change.value)
    definitions = data.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_uri(entity, change.value),
        "title": kind,
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "minLength": 1},
            "source": {"type": "string", "pattern": "^revbridge/"},
            "type": {"const": kind},
            "subject": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"const": schema_uri(entity, change.value)},
            "data": data,
        },
        "$defs": definitions,
    }


def write_schemas(directory: Path) -> list[Path]:
    """Write ``<type>.json`` for every entity and change type into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for entity in sorted(ENTITIES):
        for change in ChangeType:
            path = directory / f"{event_type(entity, change.value)}.json"
            text = json.dumps(event_schema(entity, change), indent=2, sort_keys=True)
            path.write_text(text + "\n", encoding="utf-8")
            written.append(path)
    return written
