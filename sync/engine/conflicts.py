"""Conflict detection and policies: pure functions over payloads, no I/O.

A target record is in conflict when one of its fields no longer holds what revbridge last wrote
there (the *base*) and differs from what the source wants now. Field paths are dotted (nested
objects flattened, ``address.city``); a list (order lines) is one field, compared as a whole.
The policy of a field comes from ``conflicts.entities.<entity>.fields``, else the entity's
policy, else ``conflicts.policy``:

- ``source_wins``: the source's value is written (the target's change is overwritten);
- ``target_wins``: the target's value is kept;
- ``newest_wins``: the side changed last wins (source's modified time against the target's);
- ``merge``: three-way: a target-only change is kept; a field both sides changed takes the
  source's value (the system of record);
- ``manual``: the whole record is held and the conflict queued for a person.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from config.settings import ConflictSettings
from sync.store.schema import dump_json


class Policy(StrEnum):
    """How a conflicting field is decided."""

    SOURCE_WINS = "source_wins"
    TARGET_WINS = "target_wins"
    NEWEST_WINS = "newest_wins"
    MERGE = "merge"
    MANUAL = "manual"


class Decision(StrEnum):
    """What happened to one conflicting field."""

    SOURCE = "source"  # the source's value is written
    TARGET = "target"  # the target's value is kept
    HELD = "held"  # the record waits for `revbridge conflicts resolve`


@dataclass(frozen=True)
class FieldConflict:
    """One field the target changed behind revbridge's back, and what was decided."""

    field: str
    base: Any
    source: Any
    target: Any
    policy: Policy
    decision: Decision


@dataclass(frozen=True)
class Sides:
    """The three versions of one record's target payload, plus when each side last changed."""

    written: Mapping[str, Any]  # what revbridge last wrote (the base)
    source_base: Mapping[str, Any]  # the source payload that write was built from
    source: Mapping[str, Any]  # what the source wants now
    target: Mapping[str, Any]  # the target record as it is now
    source_modified: datetime | None = None
    target_modified: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    """The conflicts of one record, each decided."""

    conflicts: tuple[FieldConflict, ...]

    @property
    def held(self) -> bool:
        """True when a ``manual`` field holds the record back."""
        return any(conflict.decision is Decision.HELD for conflict in self.conflicts)


def json_ready(value: Any) -> Any:
    """A payload as JSON would carry it: money as decimal text, dates as ISO 8601."""
    return json.loads(dump_json(value))


def flatten(payload: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value; nested objects are walked, lists are single values."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def value_at(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, ``None`` where the path runs out."""
    node: Any = record
    for step in path.split("."):
        node = node.get(step) if isinstance(node, Mapping) else None
    return node


def set_at(payload: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``payload`` with a dotted path set; objects on the way are copied, not shared."""
    head, _, rest = path.partition(".")
    copied = dict(payload)
    if not rest:
        copied[head] = value
        return copied
    child = payload.get(head)
    copied[head] = set_at(child if isinstance(child, Mapping) else {}, rest, value)
    return copied


def project(target: Any, like: Any) -> Any:
    """``target`` cut to the shape of ``like``: the fields the target adds by itself are dropped."""
    if isinstance(like, Mapping) and isinstance(target, Mapping):
        return {key: project(target.get(key), value) for key, value in like.items()}
    if isinstance(like, list) and isinstance(target, list):
        shapes = [item for item in like if isinstance(item, Mapping)]
        if not shapes:
            return target
        shape = {key: value for item in shapes for key, value in item.items()}
        return [project(item, shape) for item in target]
    return target


_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00:00(?:\.0+)?(?:Z|[+-]00:00)?$")


def _comparable(value: Any) -> Any:
    # Systems echo values in their own spelling: 50 / "50.0", 2025-09-10 / "2025-09-10T00:00:00".
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value)).normalize()
    if isinstance(value, str):
        return _comparable_text(value)
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _comparable(item) for key, item in value.items() if item is not None}
    return value


def _comparable_text(value: str) -> Any:
    midnight = _MIDNIGHT.match(value)
    if midnight:
        return midnight.group(1)
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    return number.normalize() if number.is_finite() else value


def same_value(left: Any, right: Any) -> bool:
    """Equal as values, whatever each system's spelling (numbers, dates, empty vs missing)."""
    return bool(left == right or _comparable(left) == _comparable(right))


def policy_for(settings: ConflictSettings, entity: str, field: str) -> Policy:
    """The field's policy, else its entity's, else the default; a parent path covers children."""
    entity_settings = settings.entities.get(entity)
    if entity_settings is not None:
        path = field
        while path:
            if path in entity_settings.fields:
                return Policy(entity_settings.fields[path])
            path = path.rpartition(".")[0]
        if entity_settings.policy is not None:
            return Policy(entity_settings.policy)
    return Policy(settings.policy)


def decide(policy: Policy, source_changed: bool, sides: Sides) -> Decision:
    """The decision ``policy`` takes for one conflicting field."""
    if policy is Policy.SOURCE_WINS:
        return Decision.SOURCE
    if policy is Policy.TARGET_WINS:
        return Decision.TARGET
    if policy is Policy.MERGE:
        return Decision.SOURCE if source_changed else Decision.TARGET
    if policy is Policy.NEWEST_WINS:
        source_time, target_time = sides.source_modified, sides.target_modified
        # An unknown time on either side cannot prove the target newer: the source wins.
        if source_time is not None and target_time is not None and target_time > source_time:
            return Decision.TARGET
        return Decision.SOURCE
    return Decision.HELD


def find_conflicts(settings: ConflictSettings, entity: str, sides: Sides) -> list[FieldConflict]:
    """Each field the target changed since the last write and that differs from the source."""
    written, source_base = flatten(sides.written), flatten(sides.source_base)
    source = flatten(sides.source)
    found = []
    for field in sorted(written.keys() | source.keys()):
        base = written.get(field)
        shape = base if base is not None else source.get(field)
        target = project(value_at(sides.target, field), shape)
        if same_value(target, base) or same_value(target, source.get(field)):
            continue
        source_changed = not same_value(source.get(field), source_base.get(field, base))
        policy = policy_for(settings, entity, field)
        decision = decide(policy, source_changed, sides)
        found.append(FieldConflict(field, base, source.get(field), target, policy, decision))
    return found


def carried_values(sides: Sides) -> dict[str, Any]:
    """Target values kept by an earlier decision, for fields the source has not changed since.

    Without them the source's old value would quietly overwrite a kept target value at the
    record's next write.
    """
    written, source_base = flatten(sides.written), flatten(sides.source_base)
    source = flatten(sides.source)
    return {
        field: value
        for field, value in written.items()
        if field in source_base
        and not same_value(value, source_base[field])
        and same_value(source.get(field), source_base[field])
    }


def review(settings: ConflictSettings, entity: str, sides: Sides) -> Verdict:
    """Decide every conflicting field of one record."""
    return Verdict(tuple(find_conflicts(settings, entity, sides)))


def apply_decisions(
    source: Mapping[str, Any], conflicts: Iterable[FieldConflict]
) -> dict[str, Any]:
    """The source payload with the target's value put back wherever the target won."""
    payload = dict(source)
    for conflict in conflicts:
        if conflict.decision is Decision.TARGET:
            payload = set_at(payload, conflict.field, conflict.target)
    return payload
