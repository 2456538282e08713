"""Live checks against describe metadata, with a stand-in describe (no network)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings.loader import load_mapping_set, shipped_mapping_files
from sync.tools.live_check import check_live
from sync.tools.positions import MappingPositions


def _describe_without(missing: str, retyped: dict[str, str]) -> Any:
    mappings = load_mapping_set()

    def describe(object_name: str) -> Mapping[str, Any]:
        names = {
            name
            for mapping in mappings.system("salesforce").entities.values()
            if mapping.object_name == object_name
            for name in mapping.read_fields
        }
        # Written entities upsert on their external id: the org marks it External ID.
        external_ids = {
            m.external_id_field for m in mappings.system("salesforce").entities.values()
        }
        fields = [
            {"name": name, "type": retyped.get(name, "string"), "createable": True,
             "externalId": name in external_ids}
            for name in sorted(names - {missing}) if "." not in name
        ]  # fmt: skip
        # A path through a lookup (Contract.SBQQ__Order__c) needs the lookup's relationship.
        fields += [
            {"name": f"{lookup}Ref", "type": "reference", "relationshipName": lookup}
            for lookup in sorted({name.split(".", 1)[0] for name in names if "." in name})
        ]
        children = [
            {"relationshipName": "OrderItems", "childSObject": "OrderItem"},
            {"relationshipName": "SBQQ__LineItems__r", "childSObject": "SBQQ__QuoteLine__c"},
        ]
        return {"fields": fields, "childRelationships": children}

    return describe


def test_missing_fields_and_unfit_types_are_reported_at_the_rule() -> None:
    files = shipped_mapping_files()
    describe = _describe_without("Phone", {"TotalAmount": "boolean"})

    report = check_live(load_mapping_set(files), MappingPositions(files), describe, None)

    messages = [problem.message for problem in report.problems]
    assert "Salesforce Account has no field 'Phone'" in messages
    assert "type decimal does not fit Salesforce Order.TotalAmount, a boolean field" in messages
    sf_file = next(path for path in files if path.name == "salesforce.yaml")
    text = sf_file.read_text().splitlines()
    phone = next(p for p in report.problems if "Phone" in p.message)
    assert phone.file == str(sf_file)
    assert "Phone" in text[phone.line - 1]
    assert sorted(report.notes) == [
        "billing: skipped, the system publishes no field metadata",
        "erp: skipped, the system publishes no field metadata",
    ]


def test_a_describe_that_has_every_field_finds_nothing() -> None:
    files = shipped_mapping_files()
    report = check_live(
        load_mapping_set(files), MappingPositions(files), _describe_without("", {}), None
    )
    assert [p for p in report.problems if p.file.endswith("salesforce.yaml")] == []
