"""Objects without revbridge's marker that look like a canonical record: possible duplicates.

Someone created a customer or a product by hand in a target, beside the one revbridge keeps
there: same account name and country, or same product SKU. The canonical side of the key is
read from the store only when a target shows an object without a marker, once per reconcile
and entity, as keys only; the target side is found through the mapping (the fields the
canonical key fields are written to). A key part the target does not carry (NetSuite
customers have no country in the shipped mapping) is left out of the comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.mapping_set import EntityMapping
from sync.assurance.derived_fields import mapped, target_fields_of, value_at

# The canonical fields (dotted paths) that name one record for people.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "account": ("name", "billing_address.country"),
    "product": ("sku",),
}
_PROBE = "revbridge natural key probe"

NaturalKey = tuple[str, ...]
# (canonical id, canonical payload) of every stored record of the entity.
CanonicalLoader = Callable[[], Iterable[tuple[str, Mapping[str, Any]]]]


def _normal(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split()).casefold()


@dataclass
class NaturalKeyMatcher:
    """Finds the canonical record an unmarked target object matches on its natural key."""

    mapping: EntityMapping
    load: CanonicalLoader
    _parts: list[tuple[str, str]] | None = field(default=None, init=False)
    _index: dict[NaturalKey, str] | None = field(default=None, init=False)

    def match(self, record: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """(canonical id, the target's key values) of the record ``record`` duplicates."""
        index = self._loaded()
        if not self._parts:
            return None
        values = {target: value_at(record, target) for _, target in self._parts}
        key = tuple(_normal(value) for value in values.values())
        if not any(key):
            return None
        found = index.get(key)
        return (found, values) if found is not None else None

    def key_field(self) -> str:
        """The target fields of the key, as one name for the finding."""
        return "+".join(target for _, target in self._parts or [])

    def _loaded(self) -> dict[NaturalKey, str]:
        if self._index is not None:
            return self._index
        self._index = {}
        for canonical_id, payload in self.load():
            if self._parts is None:
                if mapped(self.mapping, payload) is None:
                    continue  # a record the mapping cannot map teaches nothing
                self._parts = self._key_parts(payload)
            if not self._parts:
                break
            key = tuple(_normal(value_at(payload, path)) for path, _ in self._parts)
            if any(key):
                self._index.setdefault(key, canonical_id)
        return self._index

    def _key_parts(self, sample: Mapping[str, Any]) -> list[tuple[str, str]]:
        parts = []
        for path in NATURAL_KEYS.get(self.mapping.entity, ()):
            targets = target_fields_of(self.mapping, sample, {path: _PROBE})
            if targets:
                parts.append((path, targets[0]))
        return parts
