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
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from config.overrides import merge, overridden_prefix, parse_overrides, variable_name
from config.safe_yaml import load_yaml, oversized
from config.settings import Settings

DEFAULT_DATABASE_URL = "sqlite:///revbridge.db"
_SQLITE = "sqlite:///"
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
    Every problem is reported at once: an unset ``${VAR}``, an unreadable ``REVBRIDGE_*``
    variable and an unknown key come in one ConfigInvalid.
    """
    environ = os.environ if environ is None else environ
    tree = _parse(path)
    document, unset = _resolve_references(tree, environ, str(path))
    _anchor_relative_paths(document, path.parent)
    overrides, unreadable = parse_overrides(environ)
    problems = [problem for _, problem in unset] + [
        ConfigProblem(f"environment variable {name}", message) for name, message in unreadable
    ]
    source = _Source(str(path), tree, overrides)
    merged = merge(document, overrides)
    # A setting whose ${VAR} is unset is reported once, as unset, not again as invalid (nor
    # is its section, whose checks see an empty value).
    unset_at = {loc for loc, _ in unset}
    checked = [
        ConfigProblem(source.where(loc, loc, at_key=True), _message("value_error", message, loc))
        for check in checks
        for loc, message in check(merged)
    ]
    try:
        settings: Settings = _FileSettings(**merged)
    except ValidationError as error:
        invalid = [
            problem
            for loc, problem in _problems(error, source)
            if not any(at[: len(loc)] == loc for at in unset_at)
        ]
        raise ConfigInvalid(problems + invalid + checked) from None
    if problems or checked:
        raise ConfigInvalid(problems + checked)
    return settings


@dataclass(frozen=True)
class Override:
    """A setting a ``REVBRIDGE_*`` variable sets, and where the file set it too, if it did."""

    setting: str
    variable: str
    shadowed: str | None  # ``file:line:col`` of the file's value the variable wins over


def overrides_in_effect(path: Path, environ: Mapping[str, str] | None = None) -> list[Override]:
    """Each setting an environment variable overrides, so `check` can say where values came
    from (an edit to the file has no effect on a setting a variable sets)."""
    environ = os.environ if environ is None else environ
    overrides, _ = parse_overrides(environ)
    try:
        tree = _parse(path)
    except ConfigInvalid:
        tree = CommentedMap()
    found: list[Override] = []

    def walk(node: Any, loc: Loc) -> None:
        if isinstance(node, Mapping) and (node or not loc):
            for key, value in node.items():
                walk(value, (*loc, key))
            return
        shadowed = None
        if _in_tree(tree, loc):
            line, column = _position(tree, loc, at_key=False)
            shadowed = f"{path}:{line}:{column}"
        found.append(Override(".".join(map(str, loc)), variable_name(loc), shadowed))

    walk(overrides, ())
    return found


def _in_tree(tree: CommentedMap, loc: Loc) -> bool:
    node: Any = tree
    for step in loc:
        if not isinstance(node, CommentedMap) or step not in node:
            return False
        node = node[step]
    return True


class _FileSettings(Settings):
    """Settings from the merged document alone.

    The ``REVBRIDGE_*`` variables were read once, from the ``environ`` given, and laid over the
    file; pydantic-settings would read ``os.environ`` again, and fail on a malformed variable
    with a traceback instead of a problem naming it.
    """

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values passed in."""
        return (init_settings,)


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
    too_large = oversized(path)
    if too_large:
        raise ConfigInvalid([ConfigProblem(name, too_large)])
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
        tree = load_yaml(text)
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
) -> tuple[dict[str, Any], list[tuple[Loc, ConfigProblem]]]:
    """Plain data with ``${VAR}`` replaced; a problem (and its setting) per unset variable."""
    unset: list[tuple[Loc, ConfigProblem]] = []

    def resolve(node: Any, at: tuple[int, int], loc: Loc) -> Any:
        if isinstance(node, CommentedMap):
            return {
                str(key): resolve(node[key], node.lc.value(key), (*loc, str(key))) for key in node
            }
        if isinstance(node, CommentedSeq):
            return [resolve(item, node.lc.item(i), (*loc, i)) for i, item in enumerate(node)]
        if isinstance(node, str):
            where = f"{name}:{at[0] + 1}:{at[1] + 1}"
            unset.extend(
                (loc, ConfigProblem(where, f"environment variable {m} is not set"))
                for m in _REFERENCE.findall(node)
                if m not in environ
            )
            return _REFERENCE.sub(lambda match: environ.get(match.group(1), ""), str(node))
        if isinstance(node, date):
            return node.isoformat()
        for kind in (bool, int, float):
            if isinstance(node, kind):
                return kind(node)
        return node

    document: dict[str, Any] = resolve(tree, (0, 0), ())
    return document, unset


# Settings naming a file: relative to the configuration file, like mappings_dir.
_FILE_SETTINGS: tuple[Loc, ...] = (
    ("mappings_dir",),
    ("salesforce", "private_key_file"),
    ("salesforce", "ca_bundle"),
    ("billing", "profile_file"),
    ("billing", "ca_bundle"),
)


def _anchor_relative_paths(document: dict[str, Any], base: Path) -> None:
    """Relative paths in the file mean relative to the file, not to the working directory.

    That holds for the files settings name and for a SQLite database (the default
    ``revbridge.db`` included), so `revbridge status` from another folder finds the same store.
    Paths are normalised: ``config/../mappings`` is ``mappings``.
    """
    for loc in _FILE_SETTINGS:
        *parents, key = loc
        section: Any = document
        for step in parents:
            section = section.get(step) if isinstance(section, dict) else None
        value = section.get(key) if isinstance(section, dict) else None
        if isinstance(value, str) and value and not Path(value).is_absolute():
            section[key] = os.path.normpath(base / value)
    document["database_url"] = _anchored_database_url(document.get("database_url"), base)


def _anchored_database_url(url: Any, base: Path) -> Any:
    """A SQLite URL with a relative file made relative to ``base``; other values unchanged."""
    url = DEFAULT_DATABASE_URL if url is None else url
    if not isinstance(url, str) or not url.startswith(_SQLITE):
        return url
    file, _, query = url.removeprefix(_SQLITE).partition("?")
    if not file or file == ":memory:" or file.startswith(("/", "file:")):
        return url
    anchored = os.path.normpath(base / file)
    return f"{_SQLITE}{anchored}" + (f"?{query}" if query else "")


def _problems(error: ValidationError, source: _Source) -> list[tuple[Loc, ConfigProblem]]:
    problems: list[tuple[Loc, ConfigProblem]] = []
    for detail in error.errors(include_url=False, include_input=False):
        loc: Loc = tuple(detail["loc"])
        kind = detail["type"]
        message = _message(kind, str(detail["msg"]), loc)
        node = loc[:-1] if kind == "missing" else loc
        at_key = kind in {"extra_forbidden", "missing"}
        problems.append((loc, ConfigProblem(source.where(loc, node, at_key), message)))
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
