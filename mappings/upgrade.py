"""Mapping files of format version 1 rewritten as version 2, keeping comments and positions.

Version 1 (the skeleton's format) differs from version 2 in four rule shapes; everything else
reads the same:

- ``value: X`` is ``const: X``;
- a lone ``default: X`` (no source) is ``const: X``;
- ``map`` with a ``default`` used the default for unmapped values: ``unmapped: default``;
- ``each: CHILDREN`` with ``entity: NAME`` is ``path: CHILDREN, each: NAME``, and ``each:
  CHILDREN`` with ``fields: {...}`` is ``path: CHILDREN, each: {...}``.

The loader upgrades version 1 files in memory, so a revbridge upgrade never breaks an admin's
mappings (and ``mappings diff --against`` compares across the format change);
``revbridge mappings upgrade`` rewrites the files themselves.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

OLD_VERSION = 1
NEW_VERSION = 2


def is_old_format(tree: Any) -> bool:
    """True for a parsed mapping file that declares format version 1."""
    return isinstance(tree, CommentedMap) and tree.get("version") == OLD_VERSION


def declares_old_format(path: Path) -> bool:
    """True when the file at ``path`` reads as a mapping file of format version 1."""
    try:
        return is_old_format(YAML(typ="rt").load(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, YAMLError, ValueError, TypeError, RecursionError):
        return False  # unreadable files are the loader's to report


def upgrade_tree(tree: CommentedMap) -> list[str]:
    """Rewrite a parsed version 1 file as version 2 in place; one line per changed rule."""
    changes: list[str] = []
    tree["version"] = NEW_VERSION
    entities = tree.get("entities")
    if not isinstance(entities, CommentedMap):
        return changes
    for entity, spec in entities.items():
        if isinstance(spec, CommentedMap) and isinstance(spec.get("fields"), CommentedMap):
            changes += _upgrade_rules(spec["fields"], f"{entity}.fields")
    return changes


def _upgrade_rules(rules: CommentedMap, where: str) -> list[str]:
    changes: list[str] = []
    for name, rule in rules.items():
        if isinstance(rule, CommentedMap):
            changes += _upgrade_rule(rule, f"{where}.{name}")
    return changes


def _upgrade_rule(rule: CommentedMap, where: str) -> list[str]:
    if "value" in rule:
        _rename(rule, "value", "const")
        return [f"{where}: value -> const"]
    if "each" in rule:
        return _upgrade_each(rule, where)
    if "map" in rule and "default" in rule and "unmapped" not in rule:
        _insert_after(rule, "map", "unmapped", "default")
        return [f"{where}: map with default -> unmapped: default"]
    if "default" in rule and not {"path", "const", "template", "expr", "join"} & set(rule):
        _rename(rule, "default", "const")
        return [f"{where}: lone default -> const"]
    return []


def _upgrade_each(rule: CommentedMap, where: str) -> list[str]:
    children = rule["each"]
    if "entity" in rule:
        child_mapping = rule.pop("entity")
    elif isinstance(rule.get("fields"), CommentedMap):
        child_mapping = rule.pop("fields")
    else:
        return []  # not a version 1 shape: leave it for the loader to report
    _rename(rule, "each", "path")
    _insert_after(rule, "path", "each", child_mapping)
    changes = [f"{where}: each {children} -> path + each"]
    if isinstance(child_mapping, CommentedMap):
        changes += _upgrade_rules(child_mapping, f"{where}.each")
    return changes


def _rename(node: CommentedMap, old: str, new: str) -> None:
    """Rename a key where it stands, so its position and comment stay with it."""
    position = list(node).index(old)
    marks = node.lc.data.pop(old, None)
    comment = node.ca.items.pop(old, None)
    node.insert(position, new, node.pop(old))
    if marks is not None:
        node.lc.data[new] = marks
    if comment is not None:
        node.ca.items[new] = comment


def _insert_after(node: CommentedMap, anchor: str, key: str, value: Any) -> None:
    """Insert ``key`` after ``anchor``; errors at it point at the anchor's place in the file."""
    position = list(node).index(anchor) + 1
    node.insert(position, key, value)
    marks = node.lc.data.get(anchor)
    if marks is not None:
        node.lc.data[key] = list(marks)


def upgrade_text(text: str) -> tuple[str, list[str]] | None:
    """A version 1 file's text rewritten as version 2, with its changes; None if not version 1."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap an admin's long flow-style rules
    tree = yaml.load(text)
    if not is_old_format(tree):
        return None
    changes = upgrade_tree(tree)
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue(), changes
