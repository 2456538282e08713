"""Lookups by external id in sandbox writes, resolved the way Salesforce resolves them.

A payload may set a lookup through its relationship name and the parent's external id
(``"blng__Invoice__r": {"Revbridge_Id__c": "inv-1"}``) instead of the parent's Salesforce id;
the org finds the parent and stores its id in the lookup field (``blng__Invoice__c``), or
answers the record with ``INVALID_FIELD`` when no live parent has that external id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sandboxes.salesforce.cpq_seed import OBJECTS, ObjectDef


class ParentRecords(Protocol):
    """Where lookups find parents: the org. Only this much of it, so this module need not
    import the org, which imports the writes that use these lookups."""

    def records_of(self, object_name: str) -> Iterable[dict[str, Any]]:
        """Every record of one object, deleted ones included."""


def _error(message: str, fields: list[str]) -> dict[str, Any]:
    return {"statusCode": "INVALID_FIELD", "message": message, "fields": fields}


class ForeignKeys:
    """Resolves one collection call's external-id lookups; parent indexes are built once."""

    def __init__(self, org: ParentRecords, obj: ObjectDef) -> None:
        self._org, self._obj = org, obj
        self._indexes: dict[tuple[str, str], dict[Any, str]] = {}

    def resolve(self, changes: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """``changes`` with relationship lookups replaced by ids, and the lookup errors."""
        resolved: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for name, value in changes.items():
            reference = self._obj.relationship(name) if isinstance(value, dict) else None
            if reference is None:
                resolved[name] = value
                continue
            parent_id, error = self._parent_id(reference.reference_to[0], name, value)
            if error is not None:
                errors.append(error)
            else:
                resolved[reference.name] = parent_id
        return resolved, errors

    def _parent_id(
        self, parent_object: str, relationship: str, value: dict[str, Any]
    ) -> tuple[str | None, dict[str, Any] | None]:
        keys = [(k, v) for k, v in value.items() if k != "attributes"]
        parent = OBJECTS.get(parent_object)
        if parent is None or len(keys) != 1:
            message = f"{relationship}: a lookup by external id names exactly one field"
            return None, _error(message, [relationship])
        field_name, key = keys[0]
        field = parent.field(field_name)
        if field is None or not (field.external_id or field.name == "Id"):
            message = (
                f"Field name provided, {field_name} is not an External ID or indexed field "
                f"for {parent.name}"
            )
            return None, _error(message, [relationship])
        found = self._index(parent.name, field.name).get(key)
        if found is None:
            message = (
                f"Foreign key external ID: {key} not found for field {field.name} in entity "
                f"{parent.name}"
            )
            return None, _error(message, [])
        return found, None

    def _index(self, object_name: str, field_name: str) -> dict[Any, str]:
        if (object_name, field_name) not in self._indexes:
            self._indexes[(object_name, field_name)] = {
                record[field_name]: record["Id"]
                for record in self._org.records_of(object_name)
                if not record["IsDeleted"] and record.get(field_name) is not None
            }
        return self._indexes[(object_name, field_name)]
