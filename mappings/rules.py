"""What rules may say about canonical fields: field kinds, type converters, compatibility.

The compiler picks converters from here once per rule; the loader uses the same tables to
reject rules that could never work (``type: date`` on a money field).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import AwareDatetime, BaseModel

from mappings.canonical import ENTITIES
from mappings.spec import EntitySpec, FieldRule, FieldType

Converter = Callable[[Any], Any]

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


# Which `type` a rule may declare for each canonical field kind.
COMPATIBLE: dict[FieldKind, frozenset[FieldType]] = {
    FieldKind.STRING: frozenset({FieldType.STRING}),
    FieldKind.ENUM: frozenset({FieldType.STRING}),
    FieldKind.DECIMAL: frozenset({FieldType.DECIMAL, FieldType.INTEGER}),
    FieldKind.INTEGER: frozenset({FieldType.INTEGER, FieldType.DECIMAL}),
    FieldKind.BOOLEAN: frozenset({FieldType.BOOLEAN}),
    FieldKind.DATE: frozenset({FieldType.DATE}),
    FieldKind.DATETIME: frozenset({FieldType.DATETIME, FieldType.DATE}),
    FieldKind.MODEL: frozenset(),
    FieldKind.LIST: frozenset(),
}

DEFAULT_TYPE: dict[FieldKind, FieldType] = {
    FieldKind.STRING: FieldType.STRING,
    FieldKind.ENUM: FieldType.STRING,
    FieldKind.DECIMAL: FieldType.DECIMAL,
    FieldKind.INTEGER: FieldType.INTEGER,
    FieldKind.BOOLEAN: FieldType.BOOLEAN,
    FieldKind.DATE: FieldType.DATE,
    FieldKind.DATETIME: FieldType.DATETIME,
}


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


def _field_of(annotation: Any, required: bool) -> CanonicalField:
    value_type = _unwrap(annotation)
    if typing.get_origin(value_type) is list:
        item = _unwrap(typing.get_args(value_type)[0])
        return CanonicalField(FieldKind.LIST, required, item_model=item)
    if isinstance(value_type, type) and issubclass(value_type, StrEnum):
        return CanonicalField(FieldKind.ENUM, required, enum=value_type)
    if isinstance(value_type, type) and issubclass(value_type, BaseModel):
        return CanonicalField(FieldKind.MODEL, required, item_model=value_type)
    simple: list[tuple[type, FieldKind]] = [
        (bool, FieldKind.BOOLEAN),
        (str, FieldKind.STRING),
        (Decimal, FieldKind.DECIMAL),
        (int, FieldKind.INTEGER),
        (AwareDatetime, FieldKind.DATETIME),
        (datetime, FieldKind.DATETIME),
        (date, FieldKind.DATE),
    ]
    for base, kind in simple:
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


def lookup_key(value: Any) -> Any:
    """The key a value is looked up under in a ``map`` table (YAML keys are strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, float):
        # repr is the shortest string that round-trips, so 1200.1 stays 1200.1, not 1200.09...
        return Decimal(repr(value))
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        raise ValueError(f"{value!r} is not a decimal number") from None


def _to_integer(value: Any) -> int:
    number = _to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def to_datetime(value: Any) -> datetime:
    """An aware datetime from ISO 8601 text, Salesforce's ``...000+0000`` included."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


INBOUND: dict[FieldType, Converter] = {
    FieldType.STRING: _to_string,
    FieldType.DECIMAL: _to_decimal,
    FieldType.INTEGER: _to_integer,
    FieldType.BOOLEAN: _to_boolean,
    FieldType.DATE: _to_date,
    FieldType.DATETIME: to_datetime,
}

# Outbound values come from `model_dump(mode="json")` and go onto a JSON or SOAP wire, where
# amounts travel as decimal strings and dates as ISO text.
OUTBOUND: dict[FieldType, Converter] = {
    FieldType.STRING: _to_string,
    FieldType.DECIMAL: lambda value: str(_to_decimal(value)),
    FieldType.INTEGER: _to_integer,
    FieldType.BOOLEAN: _to_boolean,
    FieldType.DATE: lambda value: _to_date(value).isoformat(),
    FieldType.DATETIME: lambda value: to_datetime(value).isoformat(),
}


@dataclass(frozen=True)
class Finding:
    """A meaning problem at a path in the YAML tree; the loader turns it into a Problem."""

    loc: tuple[str | int, ...]
    message: str
    at_key: bool = False


@dataclass(frozen=True)
class RuleScope:
    """What the rules of one ``fields`` block are checked against."""

    inbound: bool
    model: type[BaseModel]
    mappings: Mapping[str, EntitySpec]
    loc: tuple[str | int, ...]


def model_name(model: type[BaseModel]) -> str:
    """``order_line`` for canonical records, the class name for nested models."""
    return str(getattr(model, "entity", model.__name__))


def _unknown_field(name: str, model: type[BaseModel], known: Iterable[str]) -> str:
    message = f"unknown canonical field {name!r} on {model_name(model)}"
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def writable_fields(model: type[BaseModel]) -> dict[str, CanonicalField]:
    """Canonical fields a source rule may produce: all but those revbridge fills itself."""
    return {
        path: field
        for path, field in canonical_fields(model).items()
        if path.split(".", 1)[0] not in SYSTEM_FIELDS
    }


def check_rules(rules: Mapping[str, FieldRule], scope: RuleScope) -> list[Finding]:
    """Every meaning problem of one ``fields`` block."""
    findings: list[Finding] = []
    for key, rule in rules.items():
        loc = (*scope.loc, key)
        if scope.inbound:
            known = writable_fields(scope.model)
            if key not in known:
                findings.append(Finding(loc, _unknown_field(key, scope.model, known), True))
                continue
            findings += _check_rule(rule, known[key], loc, scope)
            continue
        canonical_path = rule.path or rule.each
        if canonical_path is None:
            continue
        known = canonical_fields(scope.model)
        if canonical_path not in known:
            message = _unknown_field(canonical_path, scope.model, known)
            findings.append(Finding((*loc, rule.kind), message))
            continue
        findings += _check_rule(rule, known[canonical_path], loc, scope)
    return findings


def _check_rule(
    rule: FieldRule, field: CanonicalField, loc: tuple[str | int, ...], scope: RuleScope
) -> list[Finding]:
    findings: list[Finding] = []
    if rule.ref is not None:
        if rule.ref not in ENTITIES:
            message = f"ref to unknown canonical entity {rule.ref!r}"
            close = difflib.get_close_matches(rule.ref, list(ENTITIES), n=1)
            findings.append(
                Finding((*loc, "ref"), message + (f"; did you mean {close[0]!r}?" if close else ""))
            )
        elif field.kind is not FieldKind.STRING:
            findings.append(
                Finding((*loc, "ref"), f"ref needs an id field, not a {field.kind} field")
            )
    if rule.field_type is not None and rule.field_type not in _allowed_types(field, scope):
        message = f"type {rule.field_type} does not fit a canonical {field.kind} field"
        findings.append(Finding((*loc, "type"), message))
    if rule.lookup is not None and field.enum is not None:
        findings += _check_lookup(rule.lookup, field.enum, (*loc, "map"), scope.inbound)
    if rule.each is not None:
        findings += _check_each(rule, field, loc, scope)
    elif not findings:
        findings += _check_constants(rule, field, loc, scope)
    return findings


def _check_constants(
    rule: FieldRule, field: CanonicalField, loc: tuple[str | int, ...], scope: RuleScope
) -> list[Finding]:
    """Constants are converted at compile time, so a bad one must be caught here."""
    field_type = rule.field_type or (DEFAULT_TYPE.get(field.kind) if scope.inbound else None)
    if field_type is None:
        return []
    convert = (INBOUND if scope.inbound else OUTBOUND)[field_type]
    constants: list[tuple[tuple[str | int, ...], Any]] = [
        ((*loc, name), getattr(rule, name)) for name in ("value", "default")
    ]
    constants += [((*loc, "map", key), value) for key, value in (rule.lookup or {}).items()]
    enum = field.enum if scope.inbound else None
    findings: list[Finding] = []
    for where, constant in constants:
        if constant is None:
            continue
        try:
            convert(constant)
        except (ValueError, TypeError, ArithmeticError) as error:
            findings.append(Finding(where, f"{constant!r} is not a valid {field_type}: {error}"))
            continue
        if enum is not None and where[-2] != "map" and constant not in set(enum):
            findings.append(Finding(where, f"{constant!r} is not a {enum.__name__} value"))
    return findings


def _allowed_types(field: CanonicalField, scope: RuleScope) -> frozenset[FieldType]:
    if scope.inbound:
        return COMPATIBLE[field.kind]
    # A target may want any canonical scalar as text.
    return COMPATIBLE[field.kind] | {FieldType.STRING}


def _check_lookup(
    table: Mapping[str, Any], enum: type[StrEnum], loc: tuple[str | int, ...], inbound: bool
) -> list[Finding]:
    members = [member.value for member in enum]
    expected = f"{enum.__name__} ({', '.join(members)})"
    if inbound:
        return [
            Finding((*loc, key), f"lookup value {value!r} is not in {expected}")
            for key, value in table.items()
            if value is not None and value not in members
        ]
    return [
        Finding((*loc, key), f"lookup key {key!r} is not in {expected}", True)
        for key in table
        if key not in members
    ]


def _check_each(
    rule: FieldRule, field: CanonicalField, loc: tuple[str | int, ...], scope: RuleScope
) -> list[Finding]:
    if field.kind is not FieldKind.LIST or field.item_model is None:
        return [Finding((*loc, "each"), f"each needs a canonical list field, not a {field.kind}")]
    if scope.inbound and rule.fields is not None:
        message = "a source mapping names its child mapping with entity, not inline fields"
        return [Finding((*loc, "fields"), message, True)]
    if (rule.entity is None) == (rule.fields is None):
        what = "entity" if scope.inbound else "one of entity or fields"
        return [Finding(loc, f"each needs {what} to map its items", True)]
    if rule.fields is not None:
        child_scope = RuleScope(False, field.item_model, scope.mappings, (*loc, "fields"))
        return check_rules(rule.fields, child_scope)
    return _check_child_entity(rule, field.item_model, loc, scope)


def _check_child_entity(
    rule: FieldRule, item: type[BaseModel], loc: tuple[str | int, ...], scope: RuleScope
) -> list[Finding]:
    child = scope.mappings.get(rule.entity or "")
    if child is None:
        known = ", ".join(scope.mappings)
        message = f"each names unknown entity mapping {rule.entity!r}; this file has {known}"
        return [Finding((*loc, "entity"), message)]
    if child.system_of_record != scope.inbound:
        side = "captures" if scope.inbound else "writes"
        message = f"{rule.entity} must be a mapping that {side} records, like its parent"
        return [Finding((*loc, "entity"), message)]
    if rule.entity != model_name(item):
        message = f"this list holds {model_name(item)} records, not {rule.entity}"
        return [Finding((*loc, "entity"), message)]
    if rule.parent_key is not None and rule.parent_key not in canonical_fields(item):
        message = _unknown_field(rule.parent_key, item, canonical_fields(item))
        return [Finding((*loc, "parent_key"), message)]
    return []
