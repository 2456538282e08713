"""describe() metadata, cached per object and API version, and the write guard built on it.

Writes are checked before any call: a payload field the object does not have, or one that is
neither createable nor updateable, is a :class:`~connectors.errors.ConfigError` naming the field
(a mapping mistake, not a record's fault). Create-only fields (createable, not updateable) are
sent only to records that do not exist yet. A lookup may be set by the parent's external id
through its relationship name (``blng__Invoice__r: {Revbridge_Id__c: ...}``); the parent's
field must then be an External ID.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.errors import ConfigError
from connectors.salesforce.login import SYSTEM

# Compound fields (addresses, geolocations) read as nested objects and can't be written.
COMPOUND_TYPES = frozenset({"address", "location"})


@dataclass(frozen=True)
class FieldInfo:
    """The describe facts revbridge acts on for one field."""

    name: str
    type: str
    createable: bool
    updateable: bool
    external_id: bool
    reference_to: tuple[str, ...]
    relationship_name: str | None
    precision: int = 0  # digits of a number field, decimals included
    scale: int = 0  # decimals of a number field

    @classmethod
    def from_describe(cls, raw: Mapping[str, Any]) -> FieldInfo:
        """Build from one entry of describe's ``fields``."""
        return cls(
            name=str(raw["name"]),
            type=str(raw.get("type", "string")),
            createable=bool(raw.get("createable")),
            updateable=bool(raw.get("updateable")),
            external_id=bool(raw.get("externalId") or raw.get("idLookup")),
            reference_to=tuple(raw.get("referenceTo") or ()),
            relationship_name=raw.get("relationshipName"),
            precision=_count(raw.get("precision")),
            scale=_count(raw.get("scale")),
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class ChildInfo:
    """A child relationship: ``blng__InvoiceInvoiceLines__r`` holds ``blng__InvoiceLine__c``
    records whose ``blng__Invoice__c`` points at the parent."""

    name: str
    child_object: str
    field: str


class ObjectInfo:
    """One object's fields by lower-cased name and by relationship name, and its children."""

    def __init__(
        self, name: str, fields: Iterable[FieldInfo], children: Iterable[ChildInfo] = ()
    ) -> None:
        self.name = name
        self._fields = {f.name.lower(): f for f in fields}
        self._relationships = {
            f.relationship_name.lower(): f for f in self._fields.values() if f.relationship_name
        }
        self._children = {c.name.lower(): c for c in children}

    def field(self, name: str) -> FieldInfo | None:
        """The field called ``name`` (API names are case-insensitive)."""
        return self._fields.get(name.lower())

    def relationship(self, name: str) -> FieldInfo | None:
        """The reference field whose relationship name is ``name``."""
        return self._relationships.get(name.lower())

    def child(self, name: str) -> ChildInfo | None:
        """The child relationship called ``name``."""
        return self._children.get(name.lower())

    def writable_fields(self) -> tuple[str, ...]:
        """Id and every field a write may set, in describe order."""
        return tuple(
            f.name
            for f in self._fields.values()
            if f.name == "Id" or (f.type not in COMPOUND_TYPES and (f.createable or f.updateable))
        )


class DescribeCache:
    """describe() bodies fetched once per (object, API version)."""

    def __init__(self, fetch: Callable[[str], dict[str, Any]], api_version: str) -> None:
        self._fetch = fetch
        self._version = api_version
        self._bodies: dict[tuple[str, str], dict[str, Any]] = {}
        self._infos: dict[tuple[str, str], ObjectInfo] = {}

    def describe(self, object_name: str) -> dict[str, Any]:
        """The raw describe body (one API call the first time, none after)."""
        key = (object_name.lower(), self._version)
        if key not in self._bodies:
            self._bodies[key] = self._fetch(object_name)
        return self._bodies[key]

    def info(self, object_name: str) -> ObjectInfo:
        """The parsed field metadata of ``object_name``."""
        key = (object_name.lower(), self._version)
        if key not in self._infos:
            body = self.describe(object_name)
            fields = (FieldInfo.from_describe(raw) for raw in body.get("fields") or ())
            children = (
                ChildInfo(str(raw["relationshipName"]), str(raw["childSObject"]), str(raw["field"]))
                for raw in body.get("childRelationships") or ()
                if raw.get("relationshipName")
            )
            self._infos[key] = ObjectInfo(str(body.get("name", object_name)), fields, children)
        return self._infos[key]

    def field_at(self, object_name: str, path: str) -> FieldInfo:
        """The field a (possibly dotted, ``Account.Name``) path ends on; ConfigError if none."""
        info = self.info(object_name)
        *hops, last = path.split(".")
        for hop in hops:
            reference = info.relationship(hop)
            if reference is None or not reference.reference_to:
                raise _unknown(info.name, path)
            info = self.info(reference.reference_to[0])
        found = info.field(last)
        if found is None:
            raise _unknown(info.name, path)
        return found


def _unknown(object_name: str, field: str) -> ConfigError:
    return ConfigError(
        f"{object_name} has no field {field!r} (describe); fix the field name in the mapping "
        "or deploy the field to the org",
        system=SYSTEM,
    )


@dataclass(frozen=True)
class WritePlan:
    """What a write may send: the checked external id field, the create-only fields and the
    lookups set by a parent's external id."""

    external_id_field: str
    create_only: frozenset[str]
    lookups: frozenset[str] = frozenset()


def plan_write(
    describe: DescribeCache,
    object_name: str,
    external_id_field: str,
    payloads: Iterable[Mapping[str, Any]],
) -> WritePlan:
    """Refuse unknown, read-only or compound fields and a non-external-id key, before any call."""
    info = describe.info(object_name)
    key = info.field(external_id_field)
    if key is None:
        raise _unknown(info.name, external_id_field)
    if not key.external_id:
        raise ConfigError(
            f"{info.name}.{key.name} is not an External ID field, so revbridge can't upsert on "
            "it; mark it External ID in Setup or name another external_id in the mapping",
            system=SYSTEM,
        )
    values: dict[str, list[Any]] = {}
    for payload in payloads:
        for name, value in payload.items():
            values.setdefault(name, []).append(value)
    create_only: set[str] = set()
    for name in sorted(values):
        found = info.field(name) or _lookup_field(describe, info, name, values[name])
        if found.type in COMPOUND_TYPES or not (found.createable or found.updateable):
            raise ConfigError(
                f"{info.name}.{found.name} is read-only in Salesforce (describe says neither "
                "createable nor updateable); remove it from the mapping's written fields",
                system=SYSTEM,
            )
        if not found.updateable:
            create_only.add(name)
    lookups = frozenset(name for name in values if info.field(name) is None)
    return WritePlan(key.name, frozenset(create_only), lookups)


def _lookup_field(
    describe: DescribeCache, info: ObjectInfo, name: str, values: Iterable[Any]
) -> FieldInfo:
    """The lookup field a relationship name sets by the parent's External ID fields."""
    reference = info.relationship(name)
    if reference is None or not reference.reference_to:
        raise _unknown(info.name, name)
    parent = describe.info(reference.reference_to[0])
    for value in values:
        keys = [k for k in value if k != "attributes"] if isinstance(value, Mapping) else []
        field = parent.field(keys[0]) if len(keys) == 1 else None
        if value is not None and (field is None or not field.external_id):
            raise ConfigError(
                f"{info.name}.{name} must be {{<External ID field of {parent.name}>: value}}, "
                f"got {sorted(keys) if keys else type(value).__name__}; fix the mapping",
                system=SYSTEM,
            )
    return reference
