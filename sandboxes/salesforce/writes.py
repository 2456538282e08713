"""Writes to the Salesforce sandbox org: field validation, sObject Collections upsert, describe.

``routes.py`` serves these over HTTP; this module holds what the org checks and applies.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sandboxes.salesforce.cpq_seed import OBJECTS, IdFactory, LogicalClock, ObjectDef, new_record
from sandboxes.salesforce.lookups import ForeignKeys

_MAX_COLLECTION = 200


class WritableOrg(Protocol):
    """The org a collection upsert writes to (:class:`~sandboxes.salesforce.org.SandboxOrg`).

    Named here rather than imported: the org imports this module for its field checks and
    offers ``upsert_collection`` itself, so importing it back would close a circle.
    """

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """Held for the whole call, so no other request sees half of it."""

    @property
    def clock(self) -> LogicalClock:
        """Stamps the call's records."""

    @property
    def ids(self) -> IdFactory:
        """Ids for the records the call creates."""

    @property
    def records(self) -> dict[str, MutableMapping[str, dict[str, Any]]]:
        """Records by object name and id; created records are added here."""

    def record(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """One record by id, deleted or not."""

    def records_of(self, object_name: str) -> Iterable[dict[str, Any]]:
        """Every record of one object, deleted ones included."""

    def freeze_snapshots(self) -> None:
        """Pack earlier queries' pages before records change."""

    def touch(self, object_name: str, changed: list[dict[str, Any]], stamp: str) -> None:
        """Stamp changed records and roll their totals up."""


class SandboxError(Exception):
    """A request the sandbox refuses, rendered as Salesforce's ``[{message, errorCode}]``."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


def not_found() -> SandboxError:
    """A 404 NOT_FOUND, as Salesforce answers for a missing object or record."""
    return SandboxError(404, "NOT_FOUND", "The requested resource does not exist")


def _record_error(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields}


def find_object(name: str) -> ObjectDef:
    """The object called ``name`` (case-insensitive), or a 404 NOT_FOUND."""
    found = next((o for o in OBJECTS.values() if o.name.lower() == name.lower()), None)
    if found is None:
        raise not_found()
    return found


def check_changes(obj: ObjectDef, changes: dict[str, Any], creating: bool) -> list[dict[str, Any]]:
    """Field-level errors for writing ``changes``, in Salesforce's per-record error shape."""
    errors = []
    for name, value in changes.items():
        definition = obj.field(name)
        if definition is None:
            message = f"No such column '{name}' on sobject of type {obj.name}"
            errors.append(_record_error("INVALID_FIELD", message, [name]))
        elif not (definition.createable if creating else definition.updateable):
            message = f"Unable to create/update fields: {definition.name}."
            errors.append(_record_error("INVALID_FIELD_FOR_INSERT_UPDATE", message, [name]))
        elif isinstance(value, str) and definition.length and len(value) > definition.length:
            message = f"{definition.name}: data value too large (max length={definition.length})"
            errors.append(_record_error("STRING_TOO_LONG", message, [definition.name]))
        elif value is None and definition.required:
            errors.append(_missing([definition.name]))
        elif definition.name == "CurrencyIsoCode" and value not in (None, *definition.picklist):
            # A multi-currency org accepts only the currencies it has activated.
            message = f"Currency ISO Code: invalid currency code: {value}"
            errors.append(
                _record_error("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, [definition.name])
            )
    if creating:
        given = {name.lower() for name in changes}
        missing = [f.name for f in obj.fields if f.required and f.name.lower() not in given]
        if missing:
            errors.append(_missing(missing))
    return errors


def _missing(names: list[str]) -> dict[str, Any]:
    return _record_error("REQUIRED_FIELD_MISSING", f"Required fields are missing: {names}", names)


_NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})


def canonical_names(obj: ObjectDef, changes: dict[str, Any]) -> dict[str, Any]:
    """Changes keyed by the metadata's spelling (the API is case-insensitive), with numbers
    sent as JSON text stored as numbers, as Salesforce reads them back."""
    canonical = {}
    for name, value in changes.items():
        definition = obj.field(name)
        if definition is not None:
            number = definition.type in _NUMBER_TYPES and isinstance(value, str)
            canonical[definition.name] = _number(value, definition.type) if number else value
    return canonical


def _number(text: str, kind: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text  # the field check answers for it
    return int(value) if kind == "int" and value.is_integer() else value


def upsert_collection(
    org: WritableOrg, object_name: str, external_id_field: str, body: Any
) -> list[dict[str, Any]]:
    """sObject Collections upsert: per-record results, in order; allOrNone honoured."""
    obj = find_object(object_name)
    key = obj.field(external_id_field)
    if key is None or not (key.external_id or key.name == "Id"):
        message = (
            f"Field name provided, {external_id_field} is not an External ID or indexed "
            f"field for {obj.name}"
        )
        raise SandboxError(400, "INVALID_FIELD", message)
    payloads = body.get("records") if isinstance(body, dict) else None
    if not isinstance(payloads, list):
        raise SandboxError(400, "JSON_PARSER_ERROR", "Expected a records list")
    if len(payloads) > _MAX_COLLECTION:
        message = "record limit reached. cannot submit more than 200 records into this call"
        raise SandboxError(400, "EXCEEDED_ID_LIMIT", message)
    with org.lock:
        org.freeze_snapshots()  # earlier queries' pages must not see these writes
        return _CollectionUpsert(org, obj, key.name).run(
            payloads, bool(body.get("allOrNone", False))
        )


_ROLLED_BACK = _record_error(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
    [],
)


@dataclass
class _PlannedWrite:
    changes: dict[str, Any]
    existing: dict[str, Any] | None
    errors: list[dict[str, Any]]


class _CollectionUpsert:
    """One sObject Collections upsert call: validate every record, then apply the valid ones."""

    def __init__(self, org: WritableOrg, obj: ObjectDef, key_field: str) -> None:
        self._org, self._obj, self._key_field = org, obj, key_field
        self._foreign_keys = ForeignKeys(org, obj)
        # One pass per call instead of one per record: orgs in benchmarks hold 100k records.
        self._live_by_key = {
            r[key_field]: r for r in org.records_of(obj.name) if not r["IsDeleted"]
        }

    def run(self, payloads: list[Any], all_or_none: bool) -> list[dict[str, Any]]:
        seen: set[str] = set()
        planned = [self._plan(payload, seen) for payload in payloads]
        if all_or_none and any(p.errors for p in planned):
            return [{"success": False, "errors": p.errors or [_ROLLED_BACK]} for p in planned]
        stamp = self._org.clock.tick()
        results, changed = [], []
        for plan in planned:
            if plan.errors:
                results.append({"success": False, "errors": plan.errors})
                continue
            # What records_of gave may be a regenerated seed record: change the org's own.
            existing = plan.existing
            record = self._org.records[self._obj.name][existing["Id"]] if existing else None
            record = record or self._create(stamp)
            record.update(plan.changes)
            if self._obj.name == "OrderItem" and record["Product2Id"] is None:
                entry = self._org.record("PricebookEntry", record["PricebookEntryId"]) or {}
                record["Product2Id"] = entry.get("Product2Id")
            changed.append(record)
            results.append(
                {"id": record["Id"], "success": True, "errors": [], "created": not plan.existing}
            )
        self._org.touch(self._obj.name, changed, stamp)
        return results

    def _plan(self, payload: Any, seen: set[str]) -> _PlannedWrite:
        if not isinstance(payload, dict):
            return _PlannedWrite({}, None, [_record_error("JSON_PARSER_ERROR", "not a record", [])])
        record_type = (payload.get("attributes") or {}).get("type")
        changes = {k: v for k, v in payload.items() if k != "attributes"}
        if record_type != self._obj.name:
            message = f"The sObject type of the record ({record_type}) is not {self._obj.name}"
            return _PlannedWrite(changes, None, [_record_error("INVALID_TYPE", message, [])])
        key = next((v for k, v in changes.items() if k.lower() == self._key_field.lower()), None)
        if not key:
            return _PlannedWrite(changes, None, [_missing([self._key_field])])
        if key in seen:
            message = f"Duplicate external id specified: {key}"
            error = _record_error("DUPLICATE_VALUE", message, [self._key_field])
            return _PlannedWrite(changes, None, [error])
        seen.add(key)
        existing = self._live_by_key.get(key)
        changes, errors = self._foreign_keys.resolve(changes)
        errors += check_changes(self._obj, changes, creating=existing is None)
        errors += self._dangling_references(changes)
        return _PlannedWrite(canonical_names(self._obj, changes), existing, errors)

    def _dangling_references(self, changes: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        for name, value in changes.items():
            definition = self._obj.field(name)
            if definition is None or definition.type != "reference" or value is None:
                continue
            target = definition.reference_to[0]
            parent = self._org.record(target, value) if target in OBJECTS else {}
            if parent is None or (parent or {}).get("IsDeleted"):
                message = f"{definition.name}: id value of incorrect type: {value}"
                errors.append(
                    _record_error("INVALID_CROSS_REFERENCE_KEY", message, [definition.name])
                )
        return errors

    def _create(self, stamp: str) -> dict[str, Any]:
        org, name = self._org, self._obj.name
        record = new_record(name, org.ids.new_id(self._obj.key_prefix), stamp)
        defaults = {
            "CurrencyIsoCode": "USD",
            "IsActive": True,
            "OrderNumber": f"{len(org.records['Order']) + 1:08d}",
            "OrderItemNumber": f"{len(org.records['OrderItem']) + 1:010d}",
            "TotalAmount": 0.0,
        }
        record.update({k: v for k, v in defaults.items() if k in record})
        org.records[name][record["Id"]] = record
        return record


def describe_object(obj: ObjectDef, version: str) -> dict[str, Any]:
    """The sandbox's own compact describe, in Salesforce's shape."""
    fields = [
        {
            "name": f.name, "label": f.name.removesuffix("__c").replace("_", " "),
            "type": f.type, "updateable": f.updateable, "createable": f.createable,
            "nillable": f.nillable, "externalId": f.external_id, "unique": f.external_id,
            "idLookup": f.external_id or f.name == "Id", "custom": f.name.endswith("__c"),
            "calculated": f.calculated,
            "defaultedOnCreate": f.defaulted_on_create, "length": f.length,
            "precision": f.precision, "scale": f.scale, "referenceTo": list(f.reference_to),
            "relationshipName": f.relationship_name, "filterable": True, "sortable": True,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
                for v in f.picklist
            ],
        }
        for f in obj.fields
    ]  # fmt: skip
    children = [
        {"childSObject": c.child_object, "field": c.field, "relationshipName": c.name,
         "cascadeDelete": True, "deprecatedAndHidden": False}
        for c in obj.children
    ]  # fmt: skip
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "name": obj.name, "label": obj.name, "keyPrefix": obj.key_prefix,
        "custom": obj.name.endswith("__c"), "createable": True, "updateable": True,
        "deletable": True, "queryable": True, "fields": fields, "childRelationships": children,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }  # fmt: skip
