"""Load mapping files in explicit stages, reporting every problem at once as file:line:col.

Which files: a configuration's ``mappings_dir``, else the shipped ones for its billing
profile (:func:`shipped_mapping_files`); its mapping fixtures likewise sit in that folder's
``tests/``, else in the profile's shipped fixture folder (:func:`shipped_fixture_dir`).

Stages: parse (ruamel.yaml round-trip, so nodes keep their positions; tabs, duplicate keys and
syntax errors) -> spec (pydantic: unknown keys, types, expressions and formats that don't
compile; errors mapped back to YAML nodes) -> meaning (canonical entities and fields exist,
refs, lookups and names make sense, no reference cycles) -> compile. Nothing is compiled while
any problem remains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from config.safe_yaml import load_yaml, oversized
from config.settings import BillingProfile, Settings
from mappings.checks import Finding
from mappings.compiler import compile_system
from mappings.errors import MappingConfigError, Problem
from mappings.fields import with_suggestion
from mappings.mapping_set import MappingSet
from mappings.meaning import check_across_files, check_file
from mappings.rule_kinds import KINDS, TAG_PREFIX
from mappings.spec import ALL_KEYS, VERSION, MappingFile
from mappings.upgrade import is_old_format, upgrade_tree

__all__ = [
    "MappingConfigError",
    "Problem",
    "check_mapping_files",
    "fixture_dir_for",
    "load_mapping_set",
    "mapping_files_for",
    "shipped_fixture_dir",
    "shipped_mapping_files",
    "yaml_problem",
]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class _Loaded:
    file: str
    tree: Any
    spec: MappingFile


_SHIPPED = Path(__file__).parent
_PROFILES = _SHIPPED / "profiles"


def shipped_mapping_files(profile: BillingProfile = "json") -> list[Path]:
    """The mappings shipped for a billing profile, sorted by file name.

    The defaults beside this module, with the profile's own files in ``profiles/<profile>/``
    (Stripe's billing.yaml and erp.yaml) in place of the same-named defaults.
    """
    files = {path.name: path for path in _SHIPPED.glob("*.yaml")}
    files.update((path.name, path) for path in (_PROFILES / profile).glob("*.yaml"))
    return [files[name] for name in sorted(files)]


def shipped_fixture_dir(profile: BillingProfile = "json") -> Path:
    """The folder of the mapping fixtures shipped for a billing profile.

    A profile that ships mappings of its own (``profiles/<profile>/``) ships the fixtures they
    pass in ``profiles/<profile>/tests/``; the default mappings' are in ``tests/`` beside them.
    """
    own = _PROFILES / profile
    return own / "tests" if own.is_dir() else _SHIPPED / "tests"


def mapping_files_for(settings: Settings) -> list[Path]:
    """The mapping files a configuration uses: its ``mappings_dir``'s, else the shipped ones."""
    if settings.mappings_dir is not None:
        return sorted(settings.mappings_dir.glob("*.yaml"))
    return shipped_mapping_files(settings.billing.profile)


def fixture_dir_for(settings: Settings) -> Path:
    """The fixtures for the mappings a configuration uses: ``<mappings_dir>/tests``, else the
    ones shipped for its billing profile."""
    if settings.mappings_dir is not None:
        return settings.mappings_dir / "tests"
    return shipped_fixture_dir(settings.billing.profile)


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
        if is_old_format(tree):
            upgrade_tree(tree)  # format version 1 reads as version 2; positions are kept
        if not found:
            spec, found = _validate_spec(str(path), tree)
            if spec is not None:
                loaded.append(_Loaded(str(path), tree, spec))
        problems += found
    for item in loaded:
        problems += sorted(
            {_problem(item, finding) for finding in check_file(item.spec)},
            key=lambda problem: (problem.line, problem.column, problem.message),
        )
    trees = {item.file: item for item in loaded}
    problems += [
        _problem(trees[file], finding)
        for file, finding in check_across_files([(item.file, item.spec) for item in loaded])
    ]
    return problems, loaded


def _parse(path: Path) -> tuple[Any, list[Problem]]:
    name = str(path)
    too_large = oversized(path)
    if too_large:
        return None, [Problem(name, 1, 1, too_large)]
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
        return load_yaml(text), []
    except MarkedYAMLError as error:
        return None, [yaml_problem(name, error)]
    except (YAMLError, ValueError, TypeError, RecursionError) as error:
        # ruamel raises plain errors for a few malformed inputs (bad timestamps, deep nesting).
        return None, [Problem(name, 1, 1, f"YAML error: {error}")]


def yaml_problem(name: str, error: MarkedYAMLError) -> Problem:
    """A YAML syntax error of file ``name`` at its line and column (1:1 when ruamel has none)."""
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    # ruamel appends both values to a duplicate key's message: keep just the key.
    problem = str(error.problem).split(" with value ", 1)[0].removeprefix("found ")
    return Problem(name, line, column, f"YAML error: {problem}")


def _plain_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
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


def _walk(tree: Any, loc: Loc) -> tuple[Loc, tuple[int, int], tuple[int, int]]:
    """The part of ``loc`` present in the tree, with its last node's key and value positions."""
    node, key_at, value_at = tree, (0, 0), (0, 0)
    found: list[str | int] = []
    for step in loc:
        if isinstance(node, CommentedMap):
            tree_key = next((key for key in node if _plain_key(key) == str(step)), None)
            if tree_key is None:
                continue  # pydantic's union member names and rule tags are not in the tree
            key_at, value_at = node.lc.key(tree_key), node.lc.value(tree_key)
            node = node[tree_key]
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
            key_at = value_at = node.lc.item(step)
            node = node[step]
        else:
            continue
        found.append(step)
    return tuple(found), key_at, value_at


def _locate(tree: Any, loc: Loc, at_key: bool) -> tuple[int, int]:
    """1-based line and column of the node at ``loc``, or of its deepest existing ancestor."""
    found, key_at, value_at = _walk(tree, loc)
    at = value_at if found == loc and not at_key else key_at
    return at[0] + 1, at[1] + 1


def _validate_spec(name: str, tree: Any) -> tuple[MappingFile | None, list[Problem]]:
    try:
        return MappingFile.model_validate(_plain(tree)), []
    except ValidationError as error:
        # A union reports each member's complaint about the same node; keep the most telling.
        ranked = sorted(
            (detail["type"] not in {"value_error", "rule_source"}, index, detail)
            for index, detail in enumerate(error.errors())
        )
        unique: dict[tuple[int, int], Problem] = {}
        for _, _, detail in ranked:
            problem = _spec_problem(name, tree, detail)
            unique.setdefault((problem.line, problem.column), problem)
        return None, sorted(unique.values(), key=lambda p: (p.line, p.column))


def _spec_problem(name: str, tree: Any, detail: Any) -> Problem:
    raw_loc: Loc = tuple(detail["loc"])
    model_level = bool(raw_loc) and str(raw_loc[-1]).startswith(TAG_PREFIX)
    loc = tuple(step for step in raw_loc if not str(step).startswith(TAG_PREFIX))
    kind, message = detail["type"], str(detail["msg"]).removeprefix("Value error, ")
    found, _, _ = _walk(tree, loc)
    at_key = True
    if kind == "extra_forbidden" and str(loc[-1]) in KINDS:
        sources = ", ".join(KINDS)
        message = f"a rule takes one source ({sources}); {loc[-1]!r} is a second one"
    elif kind == "extra_forbidden":
        message = with_suggestion(f"unknown key {loc[-1]!r}", str(loc[-1]), ALL_KEYS)
    elif kind == "missing":
        message = f"missing required key {loc[-1]!r}"
        loc = loc[:-1]
    elif kind == "literal_error" and loc == ("version",):
        message = f"unsupported version {detail['input']!r}; this revbridge reads version {VERSION}"
        at_key = False
    elif kind == "rule_source":
        loc, message, at_key = _sourceless_rule(tree, loc, message)
    elif kind == "value_error":
        if not model_level and found:
            message = f"{found[-1]}: {message}"
    else:
        message = f"{found[-1]}: {message}" if found else message
        at_key = False
    line, column = _locate(tree, loc, at_key)
    return Problem(name, line, column, message)


def _node(tree: Any, loc: Loc) -> Any:
    node = tree
    for step in loc:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def _sourceless_rule(tree: Any, loc: Loc, message: str) -> tuple[Loc, str, bool]:
    """A rule without a source key: most often a misspelt one, else not a mapping at all."""
    rule = _node(tree, loc)
    if not isinstance(rule, dict):
        return loc, f"a rule is a mapping like {{path: {rule}}}, not {rule!r}", False
    unknown = [str(key) for key in rule if str(key) not in ALL_KEYS]
    if unknown:
        message = with_suggestion(f"unknown key {unknown[0]!r}", unknown[0], KINDS)
        return (*loc, unknown[0]), message, True
    return loc, message, True


def _problem(item: _Loaded, finding: Finding) -> Problem:
    line, column = _locate(item.tree, finding.loc, finding.at_key)
    return Problem(item.file, line, column, finding.message)
