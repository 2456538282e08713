"""Compile validated mapping specs into closures, once, so each record costs little.

Per record, an entity mapping is a loop over ``(target key, value function)`` steps built by
:mod:`mappings.values`; child lists call their child mapping's builder. Unless inside
:func:`mappings.codegen.closures_only`, the steps are then written out as one generated
function per mapping (:mod:`mappings.codegen`), which calls a step's closure only for rules it
does not generate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from mappings.canonical import model_for
from mappings.codegen import Applier, Step, generate_applier, generate_builder, generating
from mappings.coercion import to_datetime
from mappings.errors import MappingError
from mappings.fields import CanonicalField, canonical_fields
from mappings.identity import canonical_id
from mappings.mapping_set import ChildFields, EntityMapping, RefKeys, RefResolver, SystemMapping
from mappings.rule_kinds import PathRule, RuleBase
from mappings.rule_kinds import getter as make_getter
from mappings.spec import EntitySpec, MappingFile
from mappings.values import (
    SKIP,
    Side,
    ValueOf,
    compile_ref_lookup,
    compile_value,
    converted,
    outbound_side,
)

Record = Mapping[str, Any]
Builder = Callable[..., dict[str, Any]]


def compile_system(spec: MappingFile) -> SystemMapping:
    """Compile every entity mapping of one validated file."""
    # Children are looked up here when a record is mapped, so entities compile in any order.
    builders: dict[str, Builder] = {}
    ref_keys: dict[str, RefKeys] = {}
    entities: dict[str, EntityMapping] = {}
    for name, entity_spec in spec.entities.items():
        policy = spec.text.illegal_characters
        if entity_spec.system_of_record:
            side = Side(True, spec.system, entity=name, illegal_characters=policy)
            build = _compile_inbound(name, entity_spec, side, builders)
            ref_keys[name] = _compile_ref_keys(name, entity_spec, side, ref_keys)
        else:
            fields = canonical_fields(model_for(name))
            side = outbound_side(spec.system, fields, name, policy)
            build = _compile_outbound(name, entity_spec, side, builders)
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
            filter=entity_spec.filter,
            fingerprint=fingerprint(spec, name),
            _to_canonical=build if side.inbound else None,
            _from_canonical=None if side.inbound else build,
            _ref_keys=ref_keys.get(name),
        )
    return SystemMapping(name=spec.system, entities=entities)


def fingerprint(spec: MappingFile, name: str) -> str:
    """sha256 of the entity's normalized spec and its child mappings', for change detection."""
    names = [name]
    for child in names:  # grows while iterating: children of children
        for rule in spec.entities[child].fields.values():
            each = rule.each if isinstance(rule, PathRule) else None
            if isinstance(each, str) and each in spec.entities and each not in names:
                names.append(each)
    normal: dict[str, Any] = {
        "version": spec.version,
        "system": spec.system,
        "entities": {
            child: spec.entities[child].model_dump(
                mode="json", by_alias=True, exclude_defaults=True
            )
            for child in names
        },
    }
    # File-wide rules change what every entity makes; left out at their defaults, so files
    # without them keep the fingerprints they had.
    text_rules = spec.text.model_dump(mode="json", exclude_defaults=True)
    if text_rules:
        normal["text"] = text_rules
    text = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_fields(spec: EntitySpec) -> tuple[str, ...]:
    wanted = [spec.key, spec.cursor, spec.modified, spec.external_id]
    if spec.system_of_record:
        for rule in spec.fields.values():
            if isinstance(rule, PathRule) and rule.each is not None:
                continue
            wanted += sorted(rule.names())
    else:
        wanted += [key.split(".", 1)[0] for key in spec.fields]
    return tuple(dict.fromkeys(name for name in wanted if name))


def _child_specs(spec: EntitySpec, file: MappingFile) -> tuple[ChildFields, ...]:
    return tuple(
        ChildFields(rule.path.split(".", 1)[0], _read_fields(file.entities[rule.each]))
        for rule in spec.fields.values()
        if spec.system_of_record
        and isinstance(rule, PathRule)
        and isinstance(rule.each, str)
        and rule.each in file.entities
    )


def _refs(rules: Mapping[str, RuleBase], file: MappingFile, seen: set[str]) -> frozenset[str]:
    found: set[str] = set()
    for rule in rules.values():
        if rule.ref is not None:
            found.add(rule.ref)
        each = rule.each if isinstance(rule, PathRule) else None
        if isinstance(each, dict):
            found |= _refs(each, file, seen)
        elif each is not None and each in file.entities and each not in seen:
            found |= _refs(file.entities[each].fields, file, seen | {each})
    return frozenset(found)


def _nested(key: str) -> tuple[str, ...] | None:
    """Dotted keys build nested dicts; plain keys (the common case) are set directly."""
    parts = tuple(key.split("."))
    return parts if len(parts) > 1 else None


def _put(out: dict[str, Any], parts: tuple[str, ...], value: Any) -> None:
    target = out
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _merge(out: dict[str, Any], parts: tuple[str, ...], value: Any) -> None:
    """A split compound joins whatever sibling rules already put under the same key."""
    target = out
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    current = target.get(parts[-1])
    if isinstance(value, dict) and isinstance(current, dict):
        current.update(value)
    elif current is None or value is not None:
        target[parts[-1]] = value


def _apply(steps: list[Step], record: Record, refs: RefResolver, out: dict[str, Any]) -> None:
    for step in steps:
        value = step.value_of(record, refs)
        if value is SKIP:
            continue
        if step.merge:
            _merge(out, step.nested or (step.key,), value)
        elif step.nested is None:
            out[step.key] = value
        else:
            _put(out, step.nested, value)


def _applier(name: str, steps: list[Step], side: Side) -> Applier:
    if generating():
        return generate_applier(name, steps, side, _merge)
    return lambda record, refs, out: _apply(steps, record, refs, out)


def _step(key: str, rule: RuleBase, field: CanonicalField | None, side: Side) -> Step:
    merge = isinstance(rule, PathRule) and rule.split is not None
    return Step(key, _nested(key), compile_value(key, rule, field, side), merge, rule, field)


def _compile_inbound(
    entity: str, spec: EntitySpec, side: Side, builders: Mapping[str, Builder]
) -> Builder:
    fields = canonical_fields(model_for(entity))
    steps = [
        _step(key, rule, fields[key], side)
        for key, rule in spec.fields.items()
        if not (isinstance(rule, PathRule) and rule.each is not None)
    ]
    children = [
        (key, make_getter(rule.path), str(rule.each), rule.parent_key)
        for key, rule in spec.fields.items()
        if isinstance(rule, PathRule) and rule.each is not None
    ]
    key_field, modified_field = spec.key, spec.modified or spec.cursor
    source = {"system": side.system, "object": spec.object_name}
    scoped = spec.key_scope == "parent"
    apply = _applier(f"{side.system}.{entity}", steps, side)

    def to_canonical(
        raw: Record,
        refs: RefResolver,
        parent_modified: datetime | None = None,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        source_id = raw.get(key_field)
        if source_id is None:
            raise MappingError(key_field, "the record has no id")
        source_id = str(source_id)
        if scoped:
            if parent_id is None:
                raise MappingError(key_field, "a key scoped to its parent needs the parent's id")
            source_id = f"{parent_id}:{source_id}"
        modified = raw.get(modified_field) if modified_field else None
        out: dict[str, Any] = {
            "id": canonical_id(entity, side.system, source_id),
            "source": {**source, "id": source_id},
            "source_modified_at": parent_modified
            if modified is None
            else converted(to_datetime, modified_field or "", modified),
        }
        if out["source_modified_at"] is None:
            raise MappingError(modified_field or "source_modified_at", "no last-modified time")
        apply(raw, refs, out)
        for key, get, child, parent_key in children:
            out[key] = _children(get(raw), builders[child], parent_key, refs, out)
        return out

    return to_canonical


def _child_items(items: Any) -> Any:
    if isinstance(items, Mapping):  # Salesforce REST nests subquery rows in a query result
        items = items.get("records")
    return items or ()


def _children(
    items: Any, build: Builder, parent_key: str | None, refs: RefResolver, parent: dict[str, Any]
) -> list[dict[str, Any]]:
    built = []
    for item in _child_items(items):
        child = build(item, refs, parent["source_modified_at"], parent["source"]["id"])
        if parent_key:
            child[parent_key] = parent["id"]
        built.append(child)
    return built


def _compile_ref_keys(
    entity: str, spec: EntitySpec, side: Side, children_keys: Mapping[str, RefKeys]
) -> RefKeys:
    """What :meth:`EntityMapping.ref_keys` runs: each ref rule's lookup, then each child's."""
    fields = canonical_fields(model_for(entity))
    lookups = [
        (rule.ref, compile_ref_lookup(key, rule, fields[key], side))
        for key, rule in spec.fields.items()
        if rule.ref is not None and not (isinstance(rule, PathRule) and rule.each is not None)
    ]
    children = [
        (make_getter(rule.path), str(rule.each))
        for rule in spec.fields.values()
        if isinstance(rule, PathRule) and rule.each is not None
    ]

    def ref_keys(raw: Record) -> list[tuple[str, Any]]:
        keys = []
        for ref, lookup in lookups:
            value = lookup(raw)
            if value is not None:
                keys.append((ref, value))
        for get, child in children:
            for item in _child_items(get(raw)):
                keys += children_keys[child](item)
        return keys

    return ref_keys


def _compile_outbound(
    entity: str, spec: EntitySpec, side: Side, builders: Mapping[str, Builder]
) -> Builder:
    fields = canonical_fields(model_for(entity))
    external_id = tuple(spec.external_id.split(".")) if spec.external_id else None
    if generating():
        steps = _payload_steps(spec.fields, fields, side, builders)
        return generate_builder(f"{side.system}.{entity}", steps, side, _merge, external_id)
    build = _payload_builder(spec.fields, fields, side, builders)

    def from_canonical(record: Record, refs: RefResolver) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if external_id is not None:
            _put(out, external_id, record["id"])
        return build(record, refs, out)

    return from_canonical


def _payload_builder(
    rules: Mapping[str, RuleBase],
    fields: Mapping[str, CanonicalField],
    side: Side,
    builders: Mapping[str, Builder],
) -> Builder:
    steps = _payload_steps(rules, fields, side, builders)
    if generating():
        return generate_builder(side.entity or side.system, steps, side, _merge)

    def build(
        record: Record, refs: RefResolver, out: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        out = {} if out is None else out
        _apply(steps, record, refs, out)
        return out

    return build


def _payload_steps(
    rules: Mapping[str, RuleBase],
    fields: Mapping[str, CanonicalField],
    side: Side,
    builders: Mapping[str, Builder],
) -> list[Step]:
    steps: list[Step] = []
    for key, rule in rules.items():
        each = rule.each if isinstance(rule, PathRule) else None
        if isinstance(rule, PathRule) and each is not None:
            value_of = _outbound_children(rule.path, each, fields, side, builders)
            steps.append(Step(key, _nested(key), value_of, False))
        else:
            field = fields.get(rule.path) if isinstance(rule, PathRule) else None
            steps.append(_step(key, rule, field, side))
    return steps


def _outbound_children(
    path: str,
    each: str | Mapping[str, RuleBase],
    fields: Mapping[str, CanonicalField],
    side: Side,
    builders: Mapping[str, Builder],
) -> ValueOf:
    get = make_getter(path)
    inline = None
    if not isinstance(each, str):
        item_model = fields[path].item_model
        item_fields = canonical_fields(item_model) if item_model is not None else {}
        item_side = outbound_side(
            side.system, item_fields, f"{side.entity}.{path}", side.illegal_characters
        )
        inline = _payload_builder(each, item_fields, item_side, builders)
    child_entity = each if isinstance(each, str) else ""

    def children(record: Record, refs: RefResolver) -> list[dict[str, Any]]:
        build = inline or builders[child_entity]
        return [build(item, refs) for item in get(record) or ()]

    return children
