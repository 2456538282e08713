"""Canonical records and payloads as plain JSON values: compared, printed and diffed alike.

Numbers compare by value (``705``, ``705.0`` and ``Decimal("705.00")`` are equal), dates and
times as ISO text and enums as their values, so a YAML fixture and a mapping's output agree
whenever they mean the same thing.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with numbers as normalised Decimals, dates as ISO text, enums as values."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return _scalar(value)


def _scalar(value: Any) -> Any:
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        return number.normalize() if number.is_finite() else number
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _number(value: Decimal) -> int | float | str:
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def jsonable(value: Any) -> Any:
    """A :func:`plain` value that ``json.dumps`` accepts (exact decimals stay exact text)."""
    value = plain(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return _number(value) if isinstance(value, Decimal) else value


def render(value: Any) -> str:
    """Indented JSON with sorted keys, one field a line: the text diffs are made of."""
    return json.dumps(jsonable(value), indent=2, sort_keys=True, ensure_ascii=False)


def unified_diff(expected: Any, actual: Any, label: str) -> str:
    """A unified diff of two values' rendered text; empty when they are equal."""
    lines = difflib.unified_diff(
        render(expected).splitlines(),
        render(actual).splitlines(),
        fromfile=f"expected {label}",
        tofile=f"actual {label}",
        lineterm="",
    )
    return "\n".join(lines)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values by dotted path (``lines.0.quantity``), after :func:`plain`."""
    value = plain(value)
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(flatten(item, f"{prefix}{key}."))
        return found
    if isinstance(value, list) and value:
        found = {}
        for index, item in enumerate(value):
            found.update(flatten(item, f"{prefix}{index}."))
        return found
    return {prefix.removesuffix("."): value}


@dataclass(frozen=True)
class FieldChange:
    """One field whose value differs between two versions of a payload."""

    path: str
    before: Any
    after: Any

    def __str__(self) -> str:
        before, after = json.dumps(jsonable(self.before)), json.dumps(jsonable(self.after))
        return f"{self.path}: {before} -> {after}"


_MISSING = object()


def field_changes(before: Any, after: Any) -> list[FieldChange]:
    """The leaf fields that differ, by path; a field on one side only is null on the other."""
    old, new = flatten(before), flatten(after)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        left, right = old.get(path, _MISSING), new.get(path, _MISSING)
        if left != right:
            changes.append(
                FieldChange(
                    path, None if left is _MISSING else left, None if right is _MISSING else right
                )
            )
    return changes
