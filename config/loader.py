"""Load settings from one YAML file, ``${VAR}`` references and ``REVBRIDGE_*`` overrides.

Stages: parse (ruamel.yaml round-trip, so every node keeps its line and column) -> resolve
``${VAR}`` references from the environment -> lay ``REVBRIDGE_*`` overrides over the file (they
win) -> validate with the pydantic-settings model, and run the caller's checks (rules the
settings model can't know, such as what one billing profile can delete). Every problem is
reported at once, as ``file:line:col: message``, or with the environment variable that set the
wrong value. Values are never echoed back: a wrong secret must not end up in a terminal or a log.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from config.overrides import environment_overrides, merge, overridden_prefix, variable_name
from config.settings import Settings

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Loc = tuple[str | int, ...]

ConfigCheck = Callable[[Mapping[str, Any]], Iterable[tuple[Loc, str]]]
"""A rule beyond the settings model: reads the configuration as plain data (references
resolved, overrides laid over, not yet validated, so its problems join the model's) and yields
``(YAML path, message)`` for each problem; the problem is reported at that path's key."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration, and where: ``file:line:col`` or a variable."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ConfigInvalid(Exception):
    """The configuration file is unreadable or wrong; the message lists every problem."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def load_settings(
    path: Path, environ: Mapping[str, str] | None = None, checks: Sequence[ConfigCheck] = ()
) -> Settings:
    """Read ``path``, resolve ``${VAR}`` and ``REVBRIDGE_*`` from ``environ``, and validate.

    ``checks`` run on the same configuration; their problems are reported with the model's.
    """
    environ = os.environ if environ is None else environ
    tree = _parse(path)
    document, problems = _resolve_references(tree, environ, str(path))
    if problems:
        raise ConfigInvalid(problems)
    _anchor_relative_paths(document, path.parent)
    overrides = environment_overrides(environ)
    source = _Source(str(path), tree, overrides)
    merged = merge(document, overrides)
    checked = [
        ConfigProblem(source.where(loc, loc, at_key=True), _message("value_error", message, loc))
        for check in checks
        for loc, message in check(merged)
    ]
    try:
        settings = Settings(**merged)
    except ValidationError as error:
        raise ConfigInvalid(_problems(error, source) + checked) from None
    if checked:
        raise ConfigInvalid(checked)
    return settings


@dataclass(frozen=True)
class _Source:
    """Where each setting came from: the file (its position-keeping tree) or a variable."""

    name: str
    tree: CommentedMap
    overrides: Mapping[str, Any]

    def where(self, loc: Loc, node: Loc, at_key: bool) -> str:
        """The variable that set ``loc``, else ``file:line:col`` of ``node`` (key or value)."""
        from_variable = overridden_prefix(self.overrides, loc)
        if from_variable is not None:
            return f"environment variable {variable_name(from_variable)}"
        line, column = _position(self.tree, node, at_key)
        return f"{self.name}:{line}:{column}"


def _parse(path: Path) -> CommentedMap:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        unreadable = ConfigProblem(name, f"cannot read the configuration: {reason}")
        raise ConfigInvalid([unreadable]) from None
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            where = f"{name}:{number}:{indent.index(chr(9)) + 1}"
            raise ConfigInvalid([ConfigProblem(where, "tab in indentation; indent with spaces")])
    try:
        tree = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = str(error.problem).split(" with value ", 1)[0].removeprefix("found ")
        raise ConfigInvalid([ConfigProblem(where, f"YAML error: {problem}")]) from None
    except (YAMLError, ValueError, TypeError, RecursionError) as error:
        raise ConfigInvalid([ConfigProblem(name, f"YAML error: {error}")]) from None
    if tree is None:
        return CommentedMap()
    if not isinstance(tree, CommentedMap):
        raise ConfigInvalid([ConfigProblem(f"{name}:1:1", "expected a mapping of settings")])
    return tree


def _resolve_references(
    tree: CommentedMap, environ: Mapping[str, str], name: str
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Plain data with ``${VAR}`` replaced; a problem for each variable that is not set."""
    problems: list[ConfigProblem] = []

    def resolve(node: Any, at: tuple[int, int]) -> Any:
        if isinstance(node, CommentedMap):
            return {str(key): resolve(node[key], node.lc.value(key)) for key in node}
        if isinstance(node, CommentedSeq):
            return [resolve(item, node.lc.item(i)) for i, item in enumerate(node)]
        if isinstance(node, str):
            missing = [m for m in _REFERENCE.findall(node) if m not in environ]
            problems.extend(
                ConfigProblem(
                    f"{name}:{at[0] + 1}:{at[1] + 1}", f"environment variable {m} is not set"
                )
                for m in missing
            )
            return _REFERENCE.sub(lambda match: environ.get(match.group(1), ""), str(node))
        if isinstance(node, date):
            return node.isoformat()
        for kind in (bool, int, float):
            if isinstance(node, kind):
                return kind(node)
        return node

    document: dict[str, Any] = resolve(tree, (0, 0))
    return document, problems


def _anchor_relative_paths(document: dict[str, Any], base: Path) -> None:
    """A relative ``mappings_dir`` in the file means relative to the file, not the cwd."""
    mappings_dir = document.get("mappings_dir")
    if isinstance(mappings_dir, str) and mappings_dir and not Path(mappings_dir).is_absolute():
        document["mappings_dir"] = str(base / mappings_dir)


def _problems(error: ValidationError, source: _Source) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for detail in error.errors(include_url=False, include_input=False):
        loc: Loc = tuple(detail["loc"])
        kind = detail["type"]
        message = _message(kind, str(detail["msg"]), loc)
        node = loc[:-1] if kind == "missing" else loc
        at_key = kind in {"extra_forbidden", "missing"}
        problems.append(ConfigProblem(source.where(loc, node, at_key), message))
    return problems


def _message(kind: str, text: str, loc: Loc) -> str:
    dotted = ".".join(str(step) for step in loc)
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {dotted!r}{hint}"
    if kind == "missing":
        return f"missing required key {dotted!r}"
    return f"{dotted}: {text.removeprefix('Value error, ')}"


def _position(tree: CommentedMap, loc: Loc, at_key: bool) -> tuple[int, int]:
    """1-based line and column of the node at ``loc``, or of its deepest ancestor in the file."""
    node: Any = tree
    key_at = value_at = (0, 0)
    complete = True
    for step in loc:
        if isinstance(node, CommentedMap) and step in node:
            key_at, value_at = node.lc.key(step), node.lc.value(step)
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
            key_at = value_at = node.lc.item(step)
        else:
            complete = False
            break
        node = node[step]
    at = value_at if complete and not at_key else key_at
    return at[0] + 1, at[1] + 1


def _known_keys(loc: Loc) -> list[str]:
    """The setting names allowed at ``loc``, for "did you mean" hints."""
    model: type[BaseModel] | None = Settings
    for step in loc:
        if isinstance(step, int) or model is None:
            continue
        field = model.model_fields.get(step)
        model = _model_in(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found:
            return found
    return None
