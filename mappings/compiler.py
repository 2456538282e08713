"""Compile validated mapping specs into closures, once, so each record costs little.

Paths are split, converters and lookup tables chosen, and constants converted at compile time;
per record, a mapping is a loop over ``(target path, value function)`` pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from mappings.canonical import model_for
from mappings.errors import MappingError, UnresolvedReference
from mappings.identity import canonical_id
from mappings.mapping_set import ChildFields, EntityMapping, RefResolver, SystemMapping
from mappings.rules import (
    DEFAULT_TYPE,
    INBOUND,
    OUTBOUND,
    CanonicalField,
    canonical_fields,
    lookup_key,
    to_datetime,
)
from mappings.spec import EntitySpec, FieldRule, MappingFile

Record = Mapping[str, Any]
Getter = Callable[[Record], Any]
# Inbound value functions also see the canonical record being built (children need its id).
InboundValue = Callable[[Record, RefResolver, dict[str, Any]], Any]
OutboundValue = Callable[[Record, RefResolver], Any]
Builder = Callable[..., dict[str, Any]]

_MISSING = object()


def compile_system(spec: MappingFile) -> SystemMapping:
    """Compile every entity mapping of one validated file."""
    # Children are looked up here when a record is mapped, so entities compile in any order.
    builders: dict[str, Builder] = {}
    entities: dict[str, EntityMapping] = {}
    for name, entity_spec in spec.entities.items():
        if entity_spec.system_of_record:
            build = _compile_inbound(name, entity_spec, spec.system, builders)
            to_canonical, from_canonical = build, None
        else:
            build = _compile_outbound(name, entity_spec, spec.system, builders)
            to_canonical, from_canonical = None, build
        builders[name] = build
        entities[name] = EntityMapping(
            entity=name,
            system=spec.system,
            object_name=entity_spec.object_name,
            key_field=entity_spec.key,
            cursor_field=entity_spec.cursor,
            external_id_field=entity_spec.external_id,
            system_of_record=entity_spec.system_of_record,
            read_fields=_read_fields(entity_spec),
            children=_child_specs(entity_spec, spec),
            refs=_refs(entity_spec.fields, spec, {name}),
            _to_canonical=to_canonical,
            _from_canonical=from_canonical,
        )
    return SystemMapping(name=spec.system, entities=entities)


def _read_fields(spec: EntitySpec) -> tuple[str, ...]:
    wanted = [spec.key, spec.cursor, spec.modified, spec.external_id]
    if spec.system_of_record:
        wanted += [rule.path for rule in spec.fields.values()]
    else:
        wanted += [key.split(".", 1)[0] for key in spec.fields]
    return tuple(dict.fromkeys(name for name in wanted if name))


def _child_specs(spec: EntitySpec, file: MappingFile) -> tuple[ChildFields, ...]:
    return tuple(
        ChildFields(relationship=rule.each, fields=_read_fields(file.entities[rule.entity]))
        for rule in spec.fields.values()
        if spec.system_of_record and rule.each is not None and rule.entity in file.entities
    )


def _refs(rules: Mapping[str, FieldRule], file: MappingFile, seen: set[str]) -> frozenset[str]:
    found: set[str] = set()
    for rule in rules.values():
        if rule.ref is not None:
            found.add(rule.ref)
        if rule.fields is not None:
            found |= _refs(rule.fields, file, seen)
        if rule.entity is not None and rule.entity in file.entities and rule.entity not in seen:
            found |= _refs(file.entities[rule.entity].fields, file, seen | {rule.entity})
    return frozenset(found)


def _getter(path: str) -> Getter:
    parts = tuple(path.split("."))
    if len(parts) == 1:
        name = parts[0]
        return lambda record: record.get(name)

    def get(record: Record) -> Any:
        value: Any = record
        for part in parts:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return get


def _nested(key: str) -> tuple[str, ...] | None:
    """Dotted keys build nested dicts; plain keys (the common case) are set directly."""
    parts = tuple(key.split("."))
    return parts if len(parts) > 1 else None


def _put(out: dict[str, Any], parts: tuple[str, ...], value: Any) -> None:
    target = out
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _converted(convert: Callable[[Any], Any], field: str, value: Any) -> Any:
    try:
        return convert(value)
    except (ValueError, TypeError, ArithmeticError) as error:
        raise MappingError(field, str(error)) from None


def _compile_inbound(
    entity: str, spec: EntitySpec, system: str, builders: Mapping[str, Builder]
) -> Builder:
    fields = canonical_fields(model_for(entity))
    steps = [
        (key, _nested(key), _inbound_value(key, rule, fields[key], system, builders))
        for key, rule in spec.fields.items()
    ]
    key_field, modified_field = spec.key, spec.modified or spec.cursor
    source = {"system": system, "object": spec.object_name}

    def to_canonical(
        raw: Record, refs: RefResolver, parent_modified: datetime | None = None
    ) -> dict[str, Any]:
        source_id = raw.get(key_field)
        if source_id is None:
            raise MappingError(key_field, "the record has no id")
        source_id = str(source_id)
        modified = raw.get(modified_field) if modified_field else None
        out: dict[str, Any] = {
            "id": canonical_id(entity, system, source_id),
            "source": {**source, "id": source_id},
            "source_modified_at": parent_modified
            if modified is None
            else _converted(to_datetime, modified_field or "", modified),
        }
        if out["source_modified_at"] is None:
            raise MappingError(modified_field or "source_modified_at", "no last-modified time")
        for key, nested, value_of in steps:
            if nested is None:
                out[key] = value_of(raw, refs, out)
            else:
                _put(out, nested, value_of(raw, refs, out))
        return out

    return to_canonical


def _inbound_value(
    key: str,
    rule: FieldRule,
    field: CanonicalField,
    system: str,
    builders: Mapping[str, Builder],
) -> InboundValue:
    if rule.each is not None:
        return _inbound_children(rule, builders)
    field_type = rule.field_type or DEFAULT_TYPE.get(field.kind)
    convert = INBOUND[field_type] if field_type else (lambda value: value)
    constant = _constant(rule, convert, key)
    if rule.path is None:
        return lambda raw, refs, out: constant
    pick = _picker(key, rule, convert, constant)
    get = _getter(rule.path)
    if rule.ref is None:
        return lambda raw, refs, out: pick(get(raw))
    resolve = _resolver(key, rule, system, inbound=True)
    return lambda raw, refs, out: resolve(pick(get(raw)), refs)


def _inbound_children(rule: FieldRule, builders: Mapping[str, Builder]) -> InboundValue:
    get = _getter(rule.each or "")
    child_entity, parent_key = rule.entity or "", rule.parent_key

    def children(raw: Record, refs: RefResolver, out: dict[str, Any]) -> list[dict[str, Any]]:
        items = get(raw)
        if isinstance(items, Mapping):  # Salesforce REST nests subquery rows in a query result
            items = items.get("records")
        build = builders[child_entity]
        built = []
        for item in items or ():
            child = build(item, refs, out["source_modified_at"])
            if parent_key:
                child[parent_key] = out["id"]
            built.append(child)
        return built

    return children


def _constant(rule: FieldRule, convert: Callable[[Any], Any], key: str) -> Any:
    value = rule.value if rule.kind == "value" else rule.default
    return None if value is None else _converted(convert, key, value)


def _picker(
    key: str, rule: FieldRule, convert: Callable[[Any], Any], default: Any
) -> Callable[[Any], Any]:
    """Raw value -> converted value: lookup table or converter, then default, then required."""
    required, has_default, path = rule.required, rule.has_default, rule.path
    table = None
    if rule.lookup is not None:
        table = {
            k: None if v is None else _converted(convert, key, v) for k, v in rule.lookup.items()
        }

    if table is None and not required and default is None:
        # The common case, kept to one call: a plain field converted when present.
        def pick_plain(value: Any) -> Any:
            if value is None:
                return None
            try:
                return convert(value)
            except (ValueError, TypeError, ArithmeticError) as error:
                raise MappingError(key, str(error)) from None

        return pick_plain

    def pick(value: Any) -> Any:
        if value is not None:
            if table is None:
                value = _converted(convert, key, value)
            else:
                source_value = value
                value = table.get(lookup_key(value), _MISSING)
                if value is _MISSING:
                    if not has_default:
                        known = ", ".join(sorted(table))
                        raise MappingError(
                            key,
                            f"{path} value {source_value!r} has no entry in the lookup table "
                            f"(known: {known}); add it to the map or give a default",
                        )
                    value = default
        else:
            value = default
        if value is None and required:
            raise MappingError(key, f"required, but {path} is empty")
        return value

    return pick


def _resolver(
    key: str, rule: FieldRule, system: str, *, inbound: bool
) -> Callable[[Any, RefResolver], Any]:
    entity = rule.ref
    if entity is None:
        return lambda value, refs: value

    def resolve(value: Any, refs: RefResolver) -> Any:
        if value is None:
            return None
        found = (
            refs.canonical_id(entity, system, value)
            if inbound
            else refs.system_id(entity, system, value)
        )
        if found is None:
            raise UnresolvedReference(key, entity=entity, system=system, key=str(value))
        return found

    return resolve


def _compile_outbound(
    entity: str, spec: EntitySpec, system: str, builders: Mapping[str, Builder]
) -> Builder:
    steps = _outbound_steps(spec.fields, system, builders)
    external_id = tuple(spec.external_id.split(".")) if spec.external_id else None

    def from_canonical(record: Record, refs: RefResolver) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if external_id is not None:
            _put(out, external_id, record["id"])
        for key, nested, value_of in steps:
            if nested is None:
                out[key] = value_of(record, refs)
            else:
                _put(out, nested, value_of(record, refs))
        return out

    return from_canonical


def _outbound_steps(
    rules: Mapping[str, FieldRule], system: str, builders: Mapping[str, Builder]
) -> list[tuple[str, tuple[str, ...] | None, OutboundValue]]:
    return [
        (key, _nested(key), _outbound_value(key, rule, system, builders))
        for key, rule in rules.items()
    ]


def _payload_builder(
    rules: Mapping[str, FieldRule], system: str, builders: Mapping[str, Builder]
) -> Callable[[Record, RefResolver], dict[str, Any]]:
    steps = _outbound_steps(rules, system, builders)

    def build(record: Record, refs: RefResolver) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, nested, value_of in steps:
            if nested is None:
                out[key] = value_of(record, refs)
            else:
                _put(out, nested, value_of(record, refs))
        return out

    return build


def _outbound_value(
    key: str, rule: FieldRule, system: str, builders: Mapping[str, Builder]
) -> OutboundValue:
    if rule.each is not None:
        return _outbound_children(rule, system, builders)
    convert = OUTBOUND[rule.field_type] if rule.field_type else (lambda value: value)
    constant = _constant(rule, convert, key)
    if rule.path is None:
        return lambda record, refs: constant
    # Refs take canonical ids as they are; `type` shapes what goes on the wire.
    pick = _picker(key, rule, convert, constant)
    get = _getter(rule.path)
    if rule.ref is None:
        return lambda record, refs: pick(get(record))
    resolve = _resolver(key, rule, system, inbound=False)
    return lambda record, refs: pick(resolve(get(record), refs))


def _outbound_children(
    rule: FieldRule, system: str, builders: Mapping[str, Builder]
) -> OutboundValue:
    get = _getter(rule.each or "")
    inline = _payload_builder(rule.fields, system, builders) if rule.fields else None
    child_entity = rule.entity or ""

    def children(record: Record, refs: RefResolver) -> list[dict[str, Any]]:
        build = inline or builders[child_entity]
        return [build(item, refs) for item in get(record) or ()]

    return children
