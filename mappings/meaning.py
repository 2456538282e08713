"""Meaning checks of whole mapping files: entities, keys, required fields, cycles, overlaps.

Field rules are checked by :mod:`mappings.checks`; this module checks what spans them.
"""

from __future__ import annotations

import graphlib
from collections.abc import Sequence

from mappings.canonical import ENTITIES
from mappings.checks import Finding, Loc, RuleScope, check_rules
from mappings.fields import SYSTEM_FIELDS, with_suggestion
from mappings.rule_kinds import PathRule
from mappings.spec import EntitySpec, MappingFile


def child_parent_keys(spec: MappingFile) -> dict[str, str | None]:
    """Child entity -> the field its parent's ``each ... parent_key`` fills."""
    return {
        rule.each: rule.parent_key
        for entity in spec.entities.values()
        for rule in entity.fields.values()
        if isinstance(rule, PathRule) and isinstance(rule.each, str)
    }


def check_file(spec: MappingFile) -> list[Finding]:
    """Every meaning problem of one file whose spec is valid."""
    parent_keys = child_parent_keys(spec)
    findings: list[Finding] = []
    for name, entity in spec.entities.items():
        loc: Loc = ("entities", name)
        if name not in ENTITIES:
            message = with_suggestion(f"unknown canonical entity {name!r}", name, ENTITIES)
            findings.append(Finding(loc, message, True))
            continue
        findings += _check_entity(spec, name, entity, name in parent_keys)
        scope = RuleScope(entity.system_of_record, ENTITIES[name], spec.entities, (*loc, "fields"))
        findings += check_rules(entity.fields, scope)
        if entity.system_of_record:
            findings += _missing_required(name, entity, parent_keys.get(name))
    return findings + _reference_cycles(spec)


def _check_entity(
    spec: MappingFile, name: str, entity: EntitySpec, is_child: bool
) -> list[Finding]:
    loc: Loc = ("entities", name)
    if not entity.system_of_record and entity.external_id is None:
        message = f"{name} is written to {spec.system}; name its external_id field"
        return [Finding(loc, message, True)]
    if entity.system_of_record and entity.cursor is None and not is_child:
        message = f"{name} has no cursor and no `each` reads it with a parent, so it is never read"
        return [Finding(loc, message, True)]
    if entity.filter is not None and (not entity.system_of_record or entity.cursor is None):
        message = "filter only goes with an entity read on its own (system_of_record and cursor)"
        return [Finding((*loc, "filter"), message, True)]
    if entity.key_scope == "parent" and not (entity.system_of_record and is_child):
        message = "key_scope: parent only goes with an entity read with its parent through `each`"
        return [Finding((*loc, "key_scope"), message, True)]
    return []


def _missing_required(name: str, entity: EntitySpec, parent_key: str | None) -> list[Finding]:
    produced = {key.split(".", 1)[0] for key in entity.fields} | {parent_key}
    return [
        Finding(
            ("entities", name), f"required canonical field {field!r} of {name} is not mapped", True
        )
        for field, info in ENTITIES[name].model_fields.items()
        if info.is_required() and field not in SYSTEM_FIELDS and field not in produced
    ]


def _entity_refs(spec: MappingFile, name: str, seen: frozenset[str]) -> dict[str, Loc]:
    """Entities referenced by ``name``'s rules (children's included), each with one ref's loc."""
    found: dict[str, Loc] = {}
    for key, rule in spec.entities[name].fields.items():
        if rule.ref is not None:
            found.setdefault(rule.ref, ("entities", name, "fields", key, "ref"))
        child = rule.each if isinstance(rule, PathRule) else None
        if isinstance(child, str) and child in spec.entities and child not in seen:
            for entity, loc in _entity_refs(spec, child, seen | {child}).items():
                found.setdefault(entity, loc)
    return found


def _reference_cycles(spec: MappingFile) -> list[Finding]:
    sources = [
        name
        for name, entity in spec.entities.items()
        if entity.system_of_record and entity.cursor is not None
    ]
    refs = {name: _entity_refs(spec, name, frozenset({name})) for name in sources}
    graph = {name: set(refs[name]) & set(sources) - {name} for name in sources}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        cycle: list[str] = error.args[1]
        # cycle[i] is a predecessor of cycle[i + 1]: cycle[1] refs cycle[0].
        message = f"reference cycle among source entities: {' -> '.join(reversed(cycle))}"
        return [Finding(refs[cycle[1]][cycle[0]], message)]
    return []


def check_across_files(specs: Sequence[tuple[str, MappingFile]]) -> list[tuple[str, Finding]]:
    """Problems between files: a system mapped twice, an entity captured from two systems."""
    found: list[tuple[str, Finding]] = []
    systems: dict[str, str] = {}
    captured: dict[str, str] = {}
    for file, spec in specs:
        if spec.system in systems:
            message = f"system {spec.system!r} is already mapped in {systems[spec.system]}"
            found.append((file, Finding(("system",), message)))
        systems.setdefault(spec.system, file)
        for name, entity in spec.entities.items():
            if not entity.system_of_record:
                continue
            if name in captured:
                message = f"{name} is already captured from {captured[name]}; one system of record"
                found.append((file, Finding(("entities", name), message, True)))
            captured.setdefault(name, f"{spec.system} ({file})")
    return found
