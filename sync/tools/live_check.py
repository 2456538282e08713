"""``mappings check --live``: field names (and types where known) against the real systems.

Salesforce: each mapped object's describe. Read fields must exist (a relationship path's first
segment must be a relationship), child relationships must exist, written fields must be
createable or updateable and the upsert key an external id; a rule's ``type`` must fit the
field's type. ERP: element and attribute names of the SuiteTalk record types in its WSDL.
Billing publishes no metadata, so its mappings are skipped, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.erp.custom import CUSTOM_FIELD_LIST, is_custom_field
from connectors.errors import ConfigError
from mappings.errors import Problem
from mappings.mapping_set import EntityMapping, MappingSet
from sync.tools.positions import MappingPositions, WriteField

Describe = Callable[[str], Mapping[str, Any]]
RecordType = Callable[[str], Any]

# Salesforce field types a rule's `type` may read (text is always accepted: `format` parses it).
_FITTING_TYPES = {
    "date": {"date", "datetime"},
    "datetime": {"datetime", "date"},
    "decimal": {"double", "currency", "percent", "int", "long"},
    "money": {"double", "currency", "percent", "int", "long"},
    "integer": {"int", "long", "double"},
    "boolean": {"boolean"},
}
_TEXT_TYPES = {"string", "textarea", "picklist", "id", "reference", "email", "phone", "url"}


@dataclass
class LiveReport:
    """Live findings, plus notes on what could not be checked."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _SalesforceObjects:
    """Describe results by object name, fetched once each."""

    def __init__(self, describe: Describe) -> None:
        self._describe = describe
        self._cache: dict[str, Mapping[str, Any]] = {}

    def get(self, object_name: str) -> Mapping[str, Any]:
        if object_name not in self._cache:
            self._cache[object_name] = self._describe(object_name)
        return self._cache[object_name]

    def fields(self, object_name: str) -> dict[str, Mapping[str, Any]]:
        return {str(f["name"]).lower(): f for f in self.get(object_name).get("fields", [])}

    def relationships(self, object_name: str) -> set[str]:
        described = self.get(object_name).get("fields", [])
        return {str(f["relationshipName"]).lower() for f in described if f.get("relationshipName")}

    def children(self, object_name: str) -> dict[str, str]:
        children = self.get(object_name).get("childRelationships", [])
        return {
            str(c["relationshipName"]).lower(): str(c["childSObject"])
            for c in children
            if c.get("relationshipName")
        }


def _missing_reads(
    objects: _SalesforceObjects, object_name: str, paths: Iterable[str]
) -> list[tuple[str, str]]:
    """``(name, message)`` per read path whose field (or relationship) the object lacks."""
    fields, relationships = objects.fields(object_name), objects.relationships(object_name)
    missing = []
    for path in paths:
        first = path.split(".", 1)[0]
        is_relationship = "." in path
        if first.lower() not in (relationships if is_relationship else fields):
            kind = "relationship" if is_relationship else "field"
            missing.append((first, f"Salesforce {object_name} has no {kind} {first!r}"))
    return missing


def _check_sf_source(
    objects: _SalesforceObjects, mapping: EntityMapping, at: MappingPositions
) -> list[Problem]:
    system, entity = mapping.system, mapping.entity
    problems = [
        at.field_problem(system, entity, name, message)
        for name, message in _missing_reads(objects, mapping.object_name, mapping.read_fields)
    ]
    # A child's own fields are checked with its own mapping (the `each` entity); here only
    # the relationship that reads it with the parent.
    children = objects.children(mapping.object_name)
    for child in mapping.children:
        if child.relationship.lower() not in children:
            message = (
                f"Salesforce {mapping.object_name} has no child relationship {child.relationship!r}"
            )
            problems.append(at.field_problem(system, entity, child.relationship, message))
    return problems + _check_sf_types(objects, mapping, at)


def _check_sf_types(
    objects: _SalesforceObjects, mapping: EntityMapping, at: MappingPositions
) -> list[Problem]:
    fields = objects.fields(mapping.object_name)
    problems = []
    for path, kind, _key in at.rule_types(mapping.system, mapping.entity):
        described = fields.get(path.lower())
        fitting = _FITTING_TYPES.get(kind)
        if described is None or fitting is None:
            continue
        sf_type = str(described.get("type", ""))
        if sf_type not in fitting and sf_type not in _TEXT_TYPES:
            message = (
                f"type {kind} does not fit Salesforce {mapping.object_name}.{path}, "
                f"a {sf_type} field"
            )
            problems.append(at.field_problem(mapping.system, mapping.entity, path, message))
    return problems


def _check_sf_target(
    objects: _SalesforceObjects, mapping: EntityMapping, at: MappingPositions
) -> list[Problem]:
    fields = objects.fields(mapping.object_name)
    system, entity, name = mapping.system, mapping.entity, mapping.object_name
    problems = [
        Problem(at.file(system), write.line, write.column, message)
        for write, message in _write_problems(objects, name, at.write_fields(system, entity))
    ]
    external = fields.get((mapping.external_id_field or "").lower())
    if external is None or not (external.get("externalId") or external.get("idLookup")):
        message = f"Salesforce {name}.{mapping.external_id_field} is not an external id field"
        problems.append(at.problem(system, entity, "external_id", message))
    return problems


def _write_problems(
    objects: _SalesforceObjects, name: str, writes: Iterable[WriteField]
) -> Iterable[tuple[WriteField, str]]:
    """Each written field ``name`` can't take, with why.

    A child relationship (invoice lines, written after their invoice) checks its inline rules
    against the child object; a named child entity is checked as its own mapping. A relationship
    name sets a lookup by the parent's external id.
    """
    fields = objects.fields(name)
    for write in writes:
        first = write.path.split(".", 1)[0]
        child = objects.children(name).get(first.lower())
        described = fields.get(first.lower())
        if child is not None:
            yield from _write_problems(objects, child, write.children)
        elif described is None and first.lower() in objects.relationships(name):
            continue
        elif described is None:
            yield write, f"Salesforce {name} has no field {first!r}"
        elif not (described.get("createable") or described.get("updateable")):
            yield (
                write,
                f"Salesforce {name}.{first} is read-only (neither createable nor updateable)",
            )


def check_salesforce(
    mappings: MappingSet, describe: Describe, at: MappingPositions
) -> list[Problem]:
    """Every Salesforce mapping's field names and types against the org's describe."""
    objects = _SalesforceObjects(describe)
    problems: list[Problem] = []
    for mapping in mappings.system("salesforce").entities.values():
        try:
            objects.get(mapping.object_name)
        except ConfigError as error:
            message = f"Salesforce object {mapping.object_name!r} can't be described: {error}"
            problems.append(at.problem(mapping.system, mapping.entity, "object", message))
            continue
        check = _check_sf_source if mapping.system_of_record else _check_sf_target
        problems += check(objects, mapping, at)
    return problems


def _members(xsd_type: Any) -> dict[str, Any]:
    """Element and attribute names of a zeep complex type -> the member's type."""
    members = {name: attribute.type for name, attribute in getattr(xsd_type, "attributes", [])}
    members.update({name: element.type for name, element in getattr(xsd_type, "elements", [])})
    return members


def _erp_write_problems(
    xsd_type: Any, writes: Iterable[WriteField], type_name: str, file: str
) -> list[Problem]:
    problems: list[Problem] = []
    for write in writes:
        current, walked = xsd_type, type_name
        for segment in write.path.split("."):
            members = _members(current)
            if CUSTOM_FIELD_LIST in members and is_custom_field(segment):
                break  # a custom field: the account defines it, the WSDL does not
            if segment not in members:
                message = f"ERP {walked} has no field {segment!r}"
                problems.append(Problem(file, write.line, write.column, message))
                break
            current, walked = members[segment], f"{walked}.{segment}"
        else:
            problems += _erp_write_problems(current, write.children, walked, file)
    return problems


def check_erp(mappings: MappingSet, record_type: RecordType, at: MappingPositions) -> list[Problem]:
    """The ERP mappings' written field names against the WSDL's record types."""
    problems: list[Problem] = []
    for mapping in mappings.system("erp").entities.values():
        try:
            xsd_type = record_type(mapping.object_name)
        except ConfigError as error:
            message = f"ERP record type {mapping.object_name!r} is unknown: {error}"
            problems.append(at.problem(mapping.system, mapping.entity, "object", message))
            continue
        if mapping.system_of_record:
            writes: tuple[WriteField, ...] = ()
            missing = [
                f for f in mapping.read_fields if f.split(".", 1)[0] not in _members(xsd_type)
            ]
            for name in missing:
                message = f"ERP {mapping.object_name} has no field {name!r}"
                problems.append(at.field_problem(mapping.system, mapping.entity, name, message))
        else:
            writes = at.write_fields(mapping.system, mapping.entity)
        file = at.file(mapping.system)
        problems += _erp_write_problems(xsd_type, writes, mapping.object_name, file)
    return problems


def check_live(
    mappings: MappingSet,
    at: MappingPositions,
    describe: Describe | None,
    record_type: RecordType | None,
) -> LiveReport:
    """Every system with metadata, checked; the others named in the report's notes."""
    report = LiveReport()
    for system in sorted(mappings.systems):
        if system == "salesforce" and describe is not None:
            report.problems += check_salesforce(mappings, describe, at)
        elif system == "erp" and record_type is not None:
            report.problems += check_erp(mappings, record_type, at)
        else:
            report.notes.append(f"{system}: skipped, the system publishes no field metadata")
    report.problems.sort(key=lambda problem: (problem.file, problem.line, problem.column))
    return report
