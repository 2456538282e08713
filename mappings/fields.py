"""What the canonical model offers a mapping: every field path, its kind, enum and item model.

Read from the pydantic models themselves, so a field added to ``canonical.py`` is mappable
(and checked) without touching the mapping layer.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import AwareDatetime, BaseModel

# Filled by revbridge itself on every canonical record, never by a rule.
SYSTEM_FIELDS = ("id", "source", "source_modified_at")


class FieldKind(StrEnum):
    """The shape of a canonical field's value."""

    STRING = "string"
    ENUM = "enum"
    DECIMAL = "decimal"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    MODEL = "model"
    LIST = "list"


@dataclass(frozen=True)
class CanonicalField:
    """One canonical field path (``billing_address.city``) and what it holds."""

    kind: FieldKind
    required: bool
    enum: type[StrEnum] | None = None
    item_model: type[BaseModel] | None = None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional and Annotated down to the value's own type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = members[0]
        else:
            return annotation


_SIMPLE_KINDS: tuple[tuple[type, FieldKind], ...] = (
    (bool, FieldKind.BOOLEAN),
    (str, FieldKind.STRING),
    (Decimal, FieldKind.DECIMAL),
    (int, FieldKind.INTEGER),
    (AwareDatetime, FieldKind.DATETIME),
    (datetime, FieldKind.DATETIME),
    (date, FieldKind.DATE),
)


def _field_of(annotation: Any, required: bool) -> CanonicalField:
    value_type = _unwrap(annotation)
    if typing.get_origin(value_type) is list:
        item = _unwrap(typing.get_args(value_type)[0])
        return CanonicalField(FieldKind.LIST, required, item_model=item)
    if isinstance(value_type, type) and issubclass(value_type, StrEnum):
        return CanonicalField(FieldKind.ENUM, required, enum=value_type)
    if isinstance(value_type, type) and issubclass(value_type, BaseModel):
        return CanonicalField(FieldKind.MODEL, required, item_model=value_type)
    for base, kind in _SIMPLE_KINDS:
        if isinstance(value_type, type) and issubclass(value_type, base):
            return CanonicalField(kind, required)
    raise TypeError(f"unsupported canonical field type {annotation!r}")


@cache
def canonical_fields(model: type[BaseModel]) -> dict[str, CanonicalField]:
    """Every field path of ``model``: top-level fields and the leaves of nested models."""
    found: dict[str, CanonicalField] = {}
    for name, info in model.model_fields.items():
        field = _field_of(info.annotation, info.is_required())
        found[name] = field
        if field.kind is FieldKind.MODEL and field.item_model is not None:
            for sub_name, sub_field in canonical_fields(field.item_model).items():
                found[f"{name}.{sub_name}"] = sub_field
    return found


def writable_fields(model: type[BaseModel]) -> dict[str, CanonicalField]:
    """Canonical fields a source rule may produce: all but those revbridge fills itself."""
    return {
        path: field
        for path, field in canonical_fields(model).items()
        if path.split(".", 1)[0] not in SYSTEM_FIELDS
    }


def model_name(model: type[BaseModel]) -> str:
    """``order_line`` for canonical records, the class name for nested models."""
    return str(getattr(model, "entity", model.__name__))


def with_suggestion(message: str, name: str, known: Iterable[str]) -> str:
    """``message``, plus "did you mean ...?" when one known name is close to ``name``."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def unknown_field(name: str, model: type[BaseModel], known: Iterable[str]) -> str:
    """The message for a canonical field path that ``model`` does not have."""
    return with_suggestion(f"unknown canonical field {name!r} on {model_name(model)}", name, known)
