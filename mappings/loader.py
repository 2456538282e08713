"""Load mapping files in explicit stages, reporting every problem at once as file:line:col.

Stages: parse (ruamel.yaml round-trip, so nodes keep their positions; tabs, duplicate keys and
syntax errors) -> spec (pydantic, errors mapped back to YAML nodes) -> meaning (canonical
entities and fields exist, refs and lookups make sense, no reference cycles) -> compile.
Nothing is compiled while any problem remains.
"""

from __future__ import annotations

import difflib
import graphlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mappings.canonical import ENTITIES
from mappings.compiler import compile_system
from mappings.errors import MappingConfigError, Problem
from mappings.mapping_set import MappingSet
from mappings.rules import SYSTEM_FIELDS, Finding, RuleScope, check_rules
from mappings.spec import ALL_KEYS, EntitySpec, MappingFile

__all__ = [
    "MappingConfigError",
    "Problem",
    "check_mapping_files",
    "load_mapping_set",
    "shipped_mapping_files",
]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class _Loaded:
    file: str
    tree: Any
    spec: MappingFile


def shipped_mapping_files() -> list[Path]:
    """The default mappings shipped beside this module."""
    return sorted(Path(__file__).parent.glob("*.yaml"))


def load_mapping_set(paths: Sequence[Path] | None = None) -> MappingSet:
    """Validate and compile mapping files; raise MappingConfigError listing every problem."""
    problems, loaded = _analyse(shipped_mapping_files() if paths is None else paths)
    if problems:
        raise MappingConfigError(problems)
    return MappingSet({item.spec.system: compile_system(item.spec) for item in loaded})


def check_mapping_files(paths: Sequence[Path]) -> list[Problem]:
    """Every problem of these mapping files, nothing raised."""
    return _analyse(paths)[0]


def _analyse(paths: Sequence[Path]) -> tuple[list[Problem], list[_Loaded]]:
    problems: list[Problem] = []
    loaded: list[_Loaded] = []
    for path in paths:
        tree, found = _parse(path)
        if not found:
            spec, found = _validate_spec(str(path), tree)
            if spec is not None:
                loaded.append(_Loaded(str(path), tree, spec))
        problems += found
    for item in loaded:
        findings = _check_meaning(item.spec)
        problems += sorted(
            (_problem(item, finding) for finding in findings),
            key=lambda problem: (problem.line, problem.column),
        )
    problems += _check_across_files(loaded)
    return problems, loaded


def _parse(path: Path) -> tuple[Any, list[Problem]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(name, 1, 1, f"cannot read the mapping file: {error}")]
    tabs = [
        Problem(name, number, line.index("\t") + 1, "tab in indentation; indent with spaces")
        for number, line in enumerate(text.splitlines(), start=1)
        if "\t" in line[: len(line) - len(line.lstrip(" \t"))]
    ]
    if tabs:
        return None, tabs
    try:
        return YAML(typ="rt").load(text), []
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        # ruamel appends both values to a duplicate key's message: keep just the key.
        problem = str(error.problem).split(" with value ", 1)[0].removeprefix("found ")
        return None, [Problem(name, line, column, f"YAML error: {problem}")]
    except YAMLError as error:
        return None, [Problem(name, 1, 1, f"YAML error: {error}")]


def _plain_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _plain(node: Any) -> Any:
    """ruamel's position-keeping nodes as plain data; YAML keys always become strings."""
    if isinstance(node, dict):
        return {_plain_key(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    if isinstance(node, date):
        return node.isoformat()
    return node


def _locate(tree: Any, loc: Loc, at_key: bool) -> tuple[int, int]:
    """1-based line and column of the node at ``loc``, or of its deepest existing ancestor."""
    node, key_at, value_at = tree, (0, 0), (0, 0)
    for depth, step in enumerate(loc):
        if isinstance(node, CommentedMap):
            tree_key = next((key for key in node if _plain_key(key) == str(step)), None)
            if tree_key is None:
                break
            key_at, value_at = node.lc.key(tree_key), node.lc.value(tree_key)
            node = node[tree_key]
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
            key_at = value_at = node.lc.item(step)
            node = node[step]
        else:
            break
        if depth == len(loc) - 1 and not at_key:
            key_at = value_at
    return key_at[0] + 1, key_at[1] + 1


def _validate_spec(name: str, tree: Any) -> tuple[MappingFile | None, list[Problem]]:
    try:
        return MappingFile.model_validate(_plain(tree)), []
    except ValidationError as error:
        return None, [_spec_problem(name, tree, detail) for detail in error.errors()]


def _spec_problem(name: str, tree: Any, detail: Any) -> Problem:
    loc: Loc = tuple(detail["loc"])
    kind, message = detail["type"], str(detail["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = _with_suggestion(f"unknown key {loc[-1]!r}", str(loc[-1]), ALL_KEYS)
        line, column = _locate(tree, loc, at_key=True)
    elif kind == "missing":
        message = f"missing required key {loc[-1]!r}"
        line, column = _locate(tree, loc[:-1], at_key=True)
    elif kind == "value_error":
        line, column = _locate(tree, loc, at_key=True)
    else:
        message = f"{loc[-1]}: {message}" if loc else message
        line, column = _locate(tree, loc, at_key=False)
    return Problem(name, line, column, message)


def _with_suggestion(message: str, name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def _problem(item: _Loaded, finding: Finding) -> Problem:
    line, column = _locate(item.tree, finding.loc, finding.at_key)
    return Problem(item.file, line, column, finding.message)


def _check_meaning(spec: MappingFile) -> list[Finding]:
    # Child entities get their parent's id through `each ... parent_key`.
    parent_keys = {
        rule.entity: rule.parent_key
        for entity in spec.entities.values()
        for rule in entity.fields.values()
        if rule.each is not None and rule.entity is not None
    }
    findings: list[Finding] = []
    for name, entity in spec.entities.items():
        loc: Loc = ("entities", name)
        if name not in ENTITIES:
            message = _with_suggestion(f"unknown canonical entity {name!r}", name, ENTITIES)
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
        child = rule.entity
        if child is not None and child in spec.entities and child not in seen:
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


def _check_across_files(loaded: Sequence[_Loaded]) -> list[Problem]:
    problems: list[Problem] = []
    systems: dict[str, str] = {}
    captured: dict[str, str] = {}
    for item in loaded:
        spec = item.spec
        if spec.system in systems:
            message = f"system {spec.system!r} is already mapped in {systems[spec.system]}"
            problems.append(_problem(item, Finding(("system",), message)))
        systems.setdefault(spec.system, item.file)
        for name, entity in spec.entities.items():
            if not entity.system_of_record:
                continue
            if name in captured:
                message = f"{name} is already captured from {captured[name]}; one system of record"
                problems.append(_problem(item, Finding(("entities", name), message, True)))
            captured.setdefault(name, f"{spec.system} ({item.file})")
    return problems
