"""Change detection: stable content hashes of canonical records and target payloads."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel

# Metadata that changes without the record's content changing (a touch in the source).
_VOLATILE_KEYS = frozenset({"source_modified_at"})
# A volatile key with its value, as pydantic's compact JSON writes a field after the first:
# a datetime (no quote or backslash in its text) or null. Inside a JSON string every quote
# follows a backslash, so `,"` can only open a key: this never matches inside a value.
_VOLATILE_ENTRY = re.compile(
    "|".join(rf',"{re.escape(key)}":(?:"[^"\\]*"|null)' for key in sorted(_VOLATILE_KEYS))
)
# Leaf types whose JSON holds no object (so no key) of their own.
_DATETIMES = (datetime, AwareDatetime, NoneType)  # pydantic's AwareDatetime is a marker class
_SCALARS = (str, int, float, bool, Decimal, date, time, Enum, *_DATETIMES)


def content_hash(record: BaseModel) -> str:
    """SHA-256 of a canonical record's JSON, leaving out source timestamps at every level.

    It hashes pydantic's own JSON of the record (fields in model order), the text a minimal
    sync would hash too, rather than re-serializing a copy with sorted keys.
    """
    text = record.model_dump_json(exclude=_volatile_fields(type(record)))
    return hashlib.sha256(text.encode()).hexdigest()


def json_and_hash(record: BaseModel) -> tuple[str, str]:
    """The record's JSON (``model_dump_json()``) and its :func:`content_hash`, one serialization.

    The hashed text is that JSON without its volatile entries, which is exactly what
    ``exclude`` makes pydantic write when the model's shape allows it (:func:`_excisable`);
    other models are serialized twice.
    """
    text = record.model_dump_json()
    if not _excisable(type(record)):
        return text, content_hash(record)
    hashed = _VOLATILE_ENTRY.sub("", text)
    return text, hashlib.sha256(hashed.encode()).hexdigest()


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


@cache
def _excisable(model: type[BaseModel]) -> bool:
    """Whether cutting volatile entries out of ``model``'s JSON equals excluding the fields.

    True when every object in that JSON is a model's (no dict or ``Any`` field could hold a
    volatile key of its own), keys are field names, nothing custom shapes the output, and each
    volatile field is a datetime that is not its model's first field.
    """
    if model.model_computed_fields or model.model_config.get("extra") == "allow":
        return False
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers:
        return False
    for position, (name, info) in enumerate(model.model_fields.items()):
        if info.alias is not None or info.serialization_alias is not None:
            return False
        if name in _VOLATILE_KEYS:
            if position == 0 or not _only(info.annotation, _DATETIMES):
                return False
        elif not _only(info.annotation, _SCALARS):
            return False
    return True


def _only(annotation: Any, leaves: tuple[type, ...]) -> bool:
    """Whether ``annotation`` holds only ``leaves`` or excisable models, through lists too."""
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _excisable(annotation)
        return issubclass(annotation, leaves)
    origin = get_origin(annotation)
    if origin is Annotated:
        return _only(get_args(annotation)[0], leaves)
    if origin in (Union, UnionType, list, tuple):
        arguments = [a for a in get_args(annotation) if a is not Ellipsis]
        return bool(arguments) and all(_only(a, leaves) for a in arguments)
    return False


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
