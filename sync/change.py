"""Change detection: stable content hashes of canonical records and target payloads."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

# Metadata that changes without the record's content changing (a touch in the source).
_VOLATILE_KEYS = frozenset({"source_modified_at"})


def content_hash(record: BaseModel) -> str:
    """SHA-256 of a canonical record's JSON, leaving out source timestamps at every level.

    It hashes pydantic's own JSON of the record (fields in model order), the text a minimal
    sync would hash too, rather than re-serializing a copy with sorted keys.
    """
    text = record.model_dump_json(exclude=_volatile_fields(type(record)))
    return hashlib.sha256(text.encode()).hexdigest()


def payload_hash(payload: Any) -> str:
    """SHA-256 of a JSON-able payload with sorted keys, so key order never matters."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


@cache
def _volatile_fields(model: type[BaseModel]) -> dict[str, Any]:
    """pydantic's ``exclude`` of ``model``'s volatile fields, nested models' and lists' too."""
    exclude: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in _VOLATILE_KEYS:
            exclude[name] = True
            continue
        nested, many = _nested_model(info.annotation)
        inner = _volatile_fields(nested) if nested is not None else {}
        if inner:
            exclude[name] = {"__all__": inner} if many else inner
    return exclude


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (through Optional and Annotated), and whether a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        model, _ = _nested_model(get_args(annotation)[0])
        return model, model is not None
    if origin in (Union, UnionType, Annotated):
        for argument in get_args(annotation):
            model, many = _nested_model(argument)
            if model is not None:
                return model, many
    return None, False
