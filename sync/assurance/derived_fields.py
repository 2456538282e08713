"""Which target fields carry a canonical field, learnt from the compiled mapping itself.

A mapping is a function, so the way to ask it "where does ``status`` go in Salesforce?" is to
map a record twice, with and without a change to that field, and see which target fields
moved. Nothing is hard-coded per system: a mapping that renames a field is followed, and a
target that does not carry the field answers with none.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mappings.errors import MappingError
from mappings.mapping_set import EntityMapping


class _EchoRefs:
    """Refs resolve to themselves: only the fields that do not depend on them are probed."""

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return system_id

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return canonical_id


ECHO_REFS = _EchoRefs()


def value_at(record: Mapping[str, Any], path: str) -> Any:
    """``record[path]``, or the nested value a dotted ``path`` names (``address.country``)."""
    if path in record:
        return record[path]
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def with_value(record: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``record`` with the dotted ``path`` set to ``value``."""
    changed = copy.deepcopy(dict(record))
    parts = path.split(".")
    current = changed
    for part in parts[:-1]:
        nested = current.get(part)
        current[part] = dict(nested) if isinstance(nested, Mapping) else {}
        current = current[part]
    current[parts[-1]] = value
    return changed


def _leaves(payload: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in payload.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            found.update(_leaves(value, f"{path}."))
        else:
            found[path] = value
    return found


def mapped(mapping: EntityMapping, canonical: Mapping[str, Any]) -> dict[str, Any] | None:
    """``mapping``'s payload for ``canonical`` with refs left as canonical ids; None if it
    cannot be mapped (a record the engine would have put in the error queue)."""
    try:
        return mapping.from_canonical(canonical, ECHO_REFS)
    except (MappingError, ValueError, TypeError, KeyError):
        return None


def target_fields_of(
    mapping: EntityMapping, sample: Mapping[str, Any], changes: Mapping[str, Any]
) -> tuple[str, ...]:
    """Target fields (dotted leaf paths) whose value moves when ``sample`` gets ``changes``.

    ``changes`` maps dotted canonical paths to probe values; several probes may be needed to
    move a field that maps values (``paid`` and ``open`` both become ``Posted`` in Salesforce).
    """
    before = mapped(mapping, sample)
    changed = dict(sample)
    for path, value in changes.items():
        changed = with_value(changed, path, value)
    after = mapped(mapping, changed)
    if before is None or after is None:
        return ()
    old, new = _leaves(before), _leaves(after)
    return tuple(sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path)))
