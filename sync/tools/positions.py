"""Where things sit in the mapping YAML files, so live findings read ``file:line:col``.

Only the stable skeleton of the format is relied on: ``system``, ``entities.<entity>``,
``object`` and ``fields``, whose keys are target fields for written entities; a rule's child
rules sit under ``each`` (inline) or ``fields``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from mappings.errors import Problem


@dataclass(frozen=True)
class WriteField:
    """A target field a written entity sets: dotted path, where its key is, its child rules."""

    path: str
    line: int
    column: int
    children: tuple[WriteField, ...] = ()


def _key_position(node: Any, key: str) -> tuple[int, int] | None:
    if isinstance(node, CommentedMap) and key in node:
        line, column = node.lc.key(key)
        return line + 1, column + 1
    return None


def _child_rules(rule: Any) -> Any:
    if not isinstance(rule, CommentedMap):
        return None
    for key in ("each", "fields"):
        if isinstance(rule.get(key), CommentedMap):
            return rule[key]
    return None


def _write_fields(rules: Any) -> tuple[WriteField, ...]:
    if not isinstance(rules, CommentedMap):
        return ()
    found = []
    for key, rule in rules.items():
        line, column = _key_position(rules, key) or (1, 1)
        children = _write_fields(_child_rules(rule))
        found.append(WriteField(str(key), line, column, children))
    return tuple(found)


def _mentions(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return any(_mentions(value, name) for value in node.values())
    if isinstance(node, list):
        return any(_mentions(item, name) for item in node)
    if isinstance(node, str):
        return name in node.replace("{", " ").replace("}", " ").replace(".", " ").split()
    return False


class MappingPositions:
    """The mapping files' YAML trees by system, for locating entities, objects and fields."""

    def __init__(self, files: Sequence[Path]) -> None:
        self._trees: dict[str, tuple[str, CommentedMap]] = {}
        for path in files:
            try:
                tree = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, YAMLError):
                continue  # `mappings check` reports unreadable files before live checks run
            if isinstance(tree, CommentedMap) and isinstance(tree.get("system"), str):
                self._trees[tree["system"]] = (str(path), tree)

    def file(self, system: str) -> str:
        """The file that maps ``system``."""
        return self._trees.get(system, ("<unknown>", None))[0]

    def _entity(self, system: str, entity: str) -> tuple[str, Any]:
        file, tree = self._trees.get(system, ("<unknown>", CommentedMap()))
        entities = tree.get("entities")
        return file, entities.get(entity) if isinstance(entities, CommentedMap) else None

    def problem(self, system: str, entity: str, key: str | None, message: str) -> Problem:
        """A problem at ``entities.<entity>.<key>`` (or at the entity when key is absent)."""
        file, tree = self._trees.get(system, ("<unknown>", CommentedMap()))
        entities = tree.get("entities")
        node = self._entity(system, entity)[1]
        at = (_key_position(node, key) if key else None) or _key_position(entities, entity)
        line, column = at or (1, 1)
        return Problem(file, line, column, message)

    def field_problem(self, system: str, entity: str, name: str, message: str) -> Problem:
        """A problem at the first field rule of the entity that reads ``name``."""
        file, node = self._entity(system, entity)
        rules = node.get("fields") if isinstance(node, CommentedMap) else None
        for key, rule in (rules or {}).items():
            if _mentions(rule, name):
                line, column = _key_position(rules, key) or (1, 1)
                return Problem(file, line, column, message)
        return self.problem(system, entity, None, message)

    def write_fields(self, system: str, entity: str) -> tuple[WriteField, ...]:
        """The target fields a written entity sets, each with its position."""
        node = self._entity(system, entity)[1]
        return _write_fields(node.get("fields") if isinstance(node, CommentedMap) else None)

    def rule_types(self, system: str, entity: str) -> Iterator[tuple[str, str, str]]:
        """``(path, type, rule key)`` of the entity's simple ``{path: X, type: T}`` rules."""
        node = self._entity(system, entity)[1]
        rules = node.get("fields") if isinstance(node, CommentedMap) else None
        for key, rule in (rules or {}).items():
            if isinstance(rule, CommentedMap):
                path, kind = rule.get("path"), rule.get("type")
                if isinstance(path, str) and isinstance(kind, str) and "." not in path:
                    yield path, kind, str(key)
