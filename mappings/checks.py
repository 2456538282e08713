"""Meaning checks of field rules against the canonical model, before anything compiles.

Each check returns Findings (a YAML path and a message); the loader turns them into
file:line:col problems. Rules that could never work (``type: date`` on a money field, a lookup
table that misses an enum member, an expression naming a canonical field that doesn't exist)
are caught here rather than on the first record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from mappings.canonical import ENTITIES
from mappings.coercion import FieldType, inbound_converter, outbound_converter
from mappings.fields import (
    CanonicalField,
    FieldKind,
    canonical_fields,
    model_name,
    unknown_field,
    with_suggestion,
    writable_fields,
)
from mappings.rule_kinds import ConstRule, JoinRule, PathRule, RuleBase, SplitText
from mappings.spec import EntitySpec

Loc = tuple[str | int, ...]

# Which `type` a rule may declare for each canonical field kind.
COMPATIBLE: dict[FieldKind, frozenset[FieldType]] = {
    FieldKind.STRING: frozenset({FieldType.STRING}),
    FieldKind.ENUM: frozenset({FieldType.STRING, FieldType.ENUM}),
    FieldKind.DECIMAL: frozenset({FieldType.DECIMAL, FieldType.INTEGER, FieldType.MONEY}),
    FieldKind.INTEGER: frozenset({FieldType.INTEGER, FieldType.DECIMAL}),
    FieldKind.BOOLEAN: frozenset({FieldType.BOOLEAN}),
    FieldKind.DATE: frozenset({FieldType.DATE}),
    FieldKind.DATETIME: frozenset({FieldType.DATETIME, FieldType.DATE}),
    FieldKind.MODEL: frozenset(),
    FieldKind.LIST: frozenset(),
}

# What an inbound value is converted to when its rule names no type.
DEFAULT_TYPE: dict[FieldKind, FieldType] = {
    FieldKind.STRING: FieldType.STRING,
    FieldKind.ENUM: FieldType.STRING,
    FieldKind.DECIMAL: FieldType.DECIMAL,
    FieldKind.INTEGER: FieldType.INTEGER,
    FieldKind.BOOLEAN: FieldType.BOOLEAN,
    FieldKind.DATE: FieldType.DATE,
    FieldKind.DATETIME: FieldType.DATETIME,
}


@dataclass(frozen=True)
class Finding:
    """A meaning problem at a path in the YAML tree; the loader turns it into a Problem."""

    loc: Loc
    message: str
    at_key: bool = False


@dataclass(frozen=True)
class RuleScope:
    """What the rules of one ``fields`` block are checked against."""

    inbound: bool
    model: type[BaseModel]
    mappings: Mapping[str, EntitySpec]
    loc: Loc


def check_rules(rules: Mapping[str, RuleBase], scope: RuleScope) -> list[Finding]:
    """Every meaning problem of one ``fields`` block."""
    findings: list[Finding] = []
    known = canonical_fields(scope.model)
    for key, rule in rules.items():
        loc = (*scope.loc, key)
        if scope.inbound:
            writable = writable_fields(scope.model)
            if key not in writable:
                findings.append(Finding(loc, unknown_field(key, scope.model, writable), True))
                continue
            findings += _check_rule(rule, writable[key], loc, scope)
            continue
        unknown = _unknown_names(rule, known, scope.model, loc)
        if unknown:
            findings += unknown
        elif isinstance(rule, PathRule):
            findings += _check_rule(rule, known[rule.path], loc, scope)
        else:
            findings += _check_rule(rule, None, loc, scope)
    return findings


def _unknown_names(
    rule: RuleBase, known: Mapping[str, CanonicalField], model: type[BaseModel], loc: Loc
) -> list[Finding]:
    """Outbound rules read canonical fields, so every name they use can be checked."""
    return [
        Finding((*loc, key), unknown_field(name, model, known))
        for key, names in rule.reads().items()
        for name in sorted(names)
        if name not in known
    ]


def _check_rule(
    rule: RuleBase, field: CanonicalField | None, loc: Loc, scope: RuleScope
) -> list[Finding]:
    findings = _check_ref(rule, field, loc)
    if field is not None and rule.field_type is not None:
        allowed = COMPATIBLE[field.kind] | (set() if scope.inbound else {FieldType.STRING})
        if rule.field_type not in allowed:
            message = f"type {rule.field_type} does not fit a canonical {field.kind} field"
            findings.append(Finding((*loc, "type"), message))
    if field is not None and field.enum is not None and rule.lookup is not None:
        findings += _check_lookup(rule, field.enum, (*loc, "map"), scope.inbound)
    if isinstance(rule, PathRule) and rule.each is not None:
        return findings + _check_each(rule, field, loc, scope)
    shape = _check_shape(rule, field, loc, scope)
    if shape or findings:
        return findings + shape
    return _check_constants(rule, field, loc, scope)


def _check_ref(rule: RuleBase, field: CanonicalField | None, loc: Loc) -> list[Finding]:
    if rule.ref is None:
        return []
    if rule.ref not in ENTITIES:
        message = with_suggestion(
            f"ref to unknown canonical entity {rule.ref!r}", rule.ref, ENTITIES
        )
        return [Finding((*loc, "ref"), message)]
    if field is not None and field.kind is not FieldKind.STRING:
        return [Finding((*loc, "ref"), f"ref needs an id field, not a {field.kind} field")]
    return []


def _check_shape(
    rule: RuleBase, field: CanonicalField | None, loc: Loc, scope: RuleScope
) -> list[Finding]:
    """``split`` and ``join`` move compound values: their parts must exist."""
    if isinstance(rule, JoinRule) and scope.inbound and field is not None:
        if isinstance(rule.join, dict):
            return _check_parts(rule.join, field, (*loc, "join"))
        if field.kind is not FieldKind.STRING:
            return [Finding((*loc, "join"), f"joined text needs a text field, not {field.kind}")]
    if isinstance(rule, PathRule) and rule.split is not None and field is not None:
        parts = rule.split.into if isinstance(rule.split, SplitText) else rule.split
        if isinstance(rule.split, SplitText) and not scope.inbound:
            if field.kind is not FieldKind.STRING:
                return [
                    Finding((*loc, "split"), f"split text needs a text field, not {field.kind}")
                ]
            return []
        names = parts if scope.inbound else list(rule.split.values())  # type: ignore[union-attr]
        return _check_parts(names, field, (*loc, "split"))
    return []


def _check_parts(parts: Any, field: CanonicalField, loc: Loc) -> list[Finding]:
    if field.kind is not FieldKind.MODEL or field.item_model is None:
        return [
            Finding(loc, f"needs a canonical compound field (like an address), not {field.kind}")
        ]
    known = canonical_fields(field.item_model)
    return [
        Finding(loc, unknown_field(part, field.item_model, known))
        for part in parts
        if part not in known
    ]


def _check_constants(
    rule: RuleBase, field: CanonicalField | None, loc: Loc, scope: RuleScope
) -> list[Finding]:
    """Constants are converted at compile time, so a bad one must be caught here."""
    default_type = DEFAULT_TYPE.get(field.kind) if field and scope.inbound else None
    field_type = rule.field_type or default_type
    if field_type is None or field_type is FieldType.MONEY:
        return []
    convert = (inbound_converter if scope.inbound else outbound_converter)(field_type, None)
    constants: list[tuple[Loc, Any]] = [((*loc, "default"), rule.default)]
    if isinstance(rule, ConstRule):
        constants.append(((*loc, "const"), rule.const))
    constants += [((*loc, "map", key), value) for key, value in (rule.lookup or {}).items()]
    enum = field.enum if field is not None and scope.inbound else None
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


def _check_lookup(rule: RuleBase, enum: type[StrEnum], loc: Loc, inbound: bool) -> list[Finding]:
    table = rule.lookup or {}
    members = [member.value for member in enum]
    expected = f"{enum.__name__} ({', '.join(members)})"
    if inbound:
        return [
            Finding((*loc, key), f"lookup value {value!r} is not in {expected}")
            for key, value in table.items()
            if value is not None and value not in members
        ]
    findings = [
        Finding((*loc, key), f"lookup key {key!r} is not in {expected}", True)
        for key in table
        if key not in members
    ]
    missing = [member for member in members if member not in table]
    if missing and rule.unmapped == "error" and not findings:
        message = (
            f"map does not cover {enum.__name__} {', '.join(missing)}; "
            "add them or set unmapped: default with a default"
        )
        findings.append(Finding(loc, message, True))
    return findings


def _check_each(
    rule: PathRule, field: CanonicalField | None, loc: Loc, scope: RuleScope
) -> list[Finding]:
    if field is None or field.kind is not FieldKind.LIST or field.item_model is None:
        kind = field.kind if field else "computed"
        return [Finding((*loc, "each"), f"each needs a canonical list field, not a {kind}")]
    if isinstance(rule.each, dict):
        if scope.inbound:
            message = "a source mapping names its child mapping in each, not inline fields"
            return [Finding((*loc, "each"), message, True)]
        child_scope = RuleScope(False, field.item_model, scope.mappings, (*loc, "each"))
        return check_rules(rule.each, child_scope)
    return _check_child_entity(rule, field.item_model, loc, scope)


def _check_child_entity(
    rule: PathRule, item: type[BaseModel], loc: Loc, scope: RuleScope
) -> list[Finding]:
    name = str(rule.each)
    child = scope.mappings.get(name)
    if child is None:
        known = ", ".join(scope.mappings)
        message = f"each names unknown entity mapping {name!r}; this file has {known}"
        return [Finding((*loc, "each"), message)]
    if child.system_of_record != scope.inbound:
        side = "captures" if scope.inbound else "writes"
        return [
            Finding(
                (*loc, "each"), f"{name} must be a mapping that {side} records, like its parent"
            )
        ]
    if name != model_name(item):
        return [Finding((*loc, "each"), f"this list holds {model_name(item)} records, not {name}")]
    if rule.parent_key is not None and rule.parent_key not in canonical_fields(item):
        message = unknown_field(rule.parent_key, item, canonical_fields(item))
        return [Finding((*loc, "parent_key"), message)]
    return []
