"""Every rule kind and modifier, both ways: system to canonical, canonical to system."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mappings.errors import MappingError, UnresolvedReference
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import EntityMapping
from tests.unit.compile_paths import COMPILE_PATHS, compiled_as

MODIFIED = "2026-01-05T10:00:00Z"
# Required canonical fields each inbound case gets unless it maps them itself.
REQUIRED = {
    "account": {"name": {"path": "Name"}, "currency": {"path": "Cur"}},
    "order": {
        "account_id": {"path": "AccountId"},
        "status": {"const": "draft"},
        "effective_date": {"const": "2026-01-01"},
        "currency": {"path": "Cur"},
        "total": {"const": 0},
    },
}


@pytest.fixture(autouse=True, params=COMPILE_PATHS)
def compile_path(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test here runs on generated code and on closures alike."""
    with compiled_as(request.param):
        yield


class Xref:
    """Every id resolves: inbound to ``c-<id>``, outbound to ``s-<id>``."""

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return f"c-{system_id}"

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return f"s-{canonical_id}"


def load_entity(
    tmp_path: Path, entity: str, fields: dict[str, Any], inbound: bool
) -> EntityMapping:
    if inbound:
        spec = {"object": "Obj", "cursor": "Modified", "system_of_record": True}
        fields = {**REQUIRED[entity], **fields}
    else:
        spec = {"object": "Obj", "external_id": "ext"}
    doc = {"version": 2, "system": "crm", "entities": {entity: {**spec, "fields": fields}}}
    path = tmp_path / "crm.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
    return load_mapping_set([path]).system("crm").entities[entity]


def inbound(tmp_path: Path, entity: str, rule: dict[str, Any], raw: dict[str, Any]) -> Any:
    mapping = load_entity(tmp_path, entity, rule, inbound=True)
    record = {"Id": "1", "Modified": MODIFIED, "Name": "Acme", "Cur": "USD", **raw}
    return mapping.to_canonical(record, Xref())


def outbound(tmp_path: Path, entity: str, rules: dict[str, Any], record: dict[str, Any]) -> Any:
    mapping = load_entity(tmp_path, entity, rules, inbound=False)
    payload = mapping.from_canonical({"id": "c1", **record}, Xref())
    assert payload.pop("ext") == "c1"
    return payload


INBOUND = [
    (
        "account",
        {"website": {"path": "Owner.Site"}},
        {"Owner": {"Site": "a.io"}},
        "website",
        "a.io",
    ),
    ("account", {"website": {"path": "Owner.Site"}}, {"Owner": None}, "website", None),
    (
        "order",
        {"total": {"path": "T", "type": "decimal"}},
        {"T": 1200.1},
        "total",
        Decimal("1200.1"),
    ),
    (
        "order",
        {"total": {"path": "T", "type": "decimal", "format": {"decimal": ",", "thousands": "."}}},
        {"T": "1.234,56"},
        "total",
        Decimal("1234.56"),
    ),
    (
        "order",
        {"total": {"path": "T", "type": "money", "currency": "Cur"}},
        {"T": 12.5},
        "total",
        Decimal("12.50"),
    ),
    (
        "order",
        {"effective_date": {"path": "D", "type": "date", "format": "%d/%m/%Y"}},
        {"D": "05/02/2026"},
        "effective_date",
        date(2026, 2, 5),
    ),
    ("order", {"status": {"path": "S", "type": "enum"}}, {"S": "activated"}, "status", "activated"),
    (
        "order",
        {"status": {"path": "S", "map": {"A": "activated"}}},
        {"S": "A"},
        "status",
        "activated",
    ),
    (
        "order",
        {
            "status": {
                "path": "S",
                "map": {"A": "activated"},
                "unmapped": "default",
                "default": "draft",
            }
        },
        {"S": "Z"},
        "status",
        "draft",
    ),
    (
        "order",
        {"status": {"path": "S", "map": {"A": "activated"}, "unmapped": "passthrough"}},
        {"S": "cancelled"},
        "status",
        "cancelled",
    ),
    ("account", {"phone": {"path": "P", "default": "n/a"}}, {"P": None}, "phone", "n/a"),
    ("account", {"phone": {"const": "+1 555"}}, {}, "phone", "+1 555"),
    (
        "account",
        {"name": {"template": "{First} {Last}"}},
        {"First": "Ada", "Last": "L"},
        "name",
        "Ada L",
    ),
    (
        "account",
        {"name": {"template": "{First} {Last}"}},
        {"First": None, "Last": "L"},
        "name",
        "L",
    ),
    (
        "order",
        {"total": {"expr": "round(Quantity * Price, 2)"}},
        {"Quantity": 3, "Price": 0.1},
        "total",
        Decimal("0.30"),
    ),
    (
        "account",
        {"name": {"expr": "upper(coalesce(Nick, concat(First, '!')))"}},
        {"Nick": None, "First": "ada"},
        "name",
        "ADA!",
    ),
    (
        "account",
        {"billing_address": {"path": "Addr", "split": {"street": "street", "postal_code": "zip"}}},
        {"Addr": {"street": "1 Main", "zip": "02139"}},
        "billing_address",
        {"street": "1 Main", "postal_code": "02139"},
    ),
    (
        "account",
        {"billing_address": {"join": {"street": "Street", "city": "City"}}},
        {"Street": "1 Main", "City": "Boston"},
        "billing_address",
        {"street": "1 Main", "city": "Boston"},
    ),
    (
        "account",
        {"billing_address.street": {"join": ["Line1", "Line2", "Line3"]}},
        {"Line1": "1 Main", "Line2": "Floor 2", "Line3": ""},
        "billing_address",
        {"street": "1 Main\nFloor 2"},
    ),
    (
        "order",
        {"account_id": {"path": "AccountId", "ref": "account"}},
        {"AccountId": "9"},
        "account_id",
        "c-9",
    ),
]


@pytest.mark.parametrize(("entity", "rule", "raw", "field", "expected"), INBOUND)
def test_inbound_rule_produces_the_canonical_value(
    tmp_path: Path,
    entity: str,
    rule: dict[str, Any],
    raw: dict[str, Any],
    field: str,
    expected: Any,
) -> None:
    assert inbound(tmp_path, entity, rule, raw)[field] == expected


INBOUND_FAILURES = [
    (
        "order",
        {"total": {"path": "T", "type": "money", "currency": "Cur"}},
        {"T": "1.234"},
        "total",
    ),
    ("order", {"status": {"path": "S", "type": "enum"}}, {"S": "Pending"}, "status"),
    ("order", {"status": {"path": "S", "map": {"A": "activated"}}}, {"S": "Z"}, "status"),
    ("account", {"phone": {"path": "P", "required": True}}, {"P": None}, "phone"),
    (
        "order",
        {"effective_date": {"path": "D", "type": "date", "format": "%d/%m/%Y"}},
        {"D": "x"},
        "effective_date",
    ),
    ("order", {"total": {"expr": "Quantity / 0"}}, {"Quantity": 1}, "total"),
    (
        "account",
        {"phone": {"path": "P", "when": "Country > 1"}},
        {"Country": "US"},
        "phone",
    ),
]


@pytest.mark.parametrize(("entity", "rule", "raw", "field"), INBOUND_FAILURES)
def test_inbound_value_that_cannot_be_mapped_is_a_mapping_error_on_its_field(
    tmp_path: Path, entity: str, rule: dict[str, Any], raw: dict[str, Any], field: str
) -> None:
    with pytest.raises(MappingError) as raised:
        inbound(tmp_path, entity, rule, raw)

    assert raised.value.field == field
    assert not isinstance(raised.value, UnresolvedReference)


def test_when_false_leaves_the_field_out_so_the_canonical_default_applies(tmp_path: Path) -> None:
    rule = {"phone": {"path": "P", "when": "Country == 'US'"}}

    skipped = inbound(tmp_path, "account", rule, {"P": "1", "Country": "FR"})
    kept = inbound(tmp_path, "account", rule, {"P": "1", "Country": "US"})

    assert "phone" not in skipped
    assert kept["phone"] == "1"


def test_child_relationship_path_may_name_the_records_list(tmp_path: Path) -> None:
    doc = {
        "version": 2,
        "system": "crm",
        "entities": {
            "order": {
                "object": "Order",
                "cursor": "Modified",
                "system_of_record": True,
                "fields": {
                    **REQUIRED["order"],
                    "lines": {
                        "path": "Items.records",
                        "each": "order_line",
                        "parent_key": "order_id",
                    },
                },
            },
            "order_line": {
                "object": "Item",
                "modified": "Modified",
                "system_of_record": True,
                "fields": {
                    "product_id": {"path": "P"},
                    "quantity": {"path": "Q"},
                    "unit_price": {"const": 1},
                    "total": {"expr": "Q * 1"},
                },
            },
        },
    }
    path = tmp_path / "crm.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    order = load_mapping_set([path]).system("crm").entities["order"]
    raw = {"Id": "1", "Modified": MODIFIED, "AccountId": "a", "Cur": "USD"}
    raw["Items"] = {"records": [{"Id": "L1", "P": "p", "Q": 2}]}

    (line,) = order.to_canonical(raw, Xref())["lines"]

    assert (line["quantity"], line["total"], line["order_id"]) == (
        Decimal(2),
        Decimal(2),
        order.to_canonical(raw, Xref())["id"],
    )
    assert order.children[0].relationship == "Items"
    assert order.children[0].fields == ("Id", "Modified", "P", "Q")


CANONICAL_ORDER = {
    "order_number": "42",
    "status": "activated",
    "effective_date": "2026-02-05",
    "currency": "EUR",
    "total": "1234.5",
    "account_id": "acc",
    "source_modified_at": "2026-01-05T10:00:00Z",
    "lines": [{"quantity": "2", "unit_price": "10.5", "product_id": "p1"}],
}

OUTBOUND = [
    ({"No": {"path": "order_number"}}, "No", "42"),
    ({"Total": {"path": "total", "type": "decimal"}}, "Total", "1234.5"),
    (
        {
            "Total": {
                "path": "total",
                "type": "money",
                "currency": "currency",
                "format": {"decimal": ",", "thousands": "."},
            }
        },
        "Total",
        "1.234,50",
    ),
    (
        {"Date": {"path": "effective_date", "type": "date", "format": "%d.%m.%Y"}},
        "Date",
        "05.02.2026",
    ),
    (
        {"Seen": {"path": "source_modified_at", "type": "datetime", "format": "%Y-%m-%d %H:%M%z"}},
        "Seen",
        "2026-01-05 10:00+0000",
    ),
    ({"S": {"path": "status", "type": "enum"}}, "S", "activated"),
    (
        {"S": {"path": "status", "map": {"draft": "D", "activated": "A", "cancelled": "C"}}},
        "S",
        "A",
    ),
    (
        {"S": {"path": "status", "map": {"draft": "D"}, "unmapped": "default", "default": "X"}},
        "S",
        "X",
    ),
    ({"S": {"path": "status", "map": {"draft": "D"}, "unmapped": "passthrough"}}, "S", "activated"),
    ({"End": {"path": "end_date", "default": "open"}}, "End", "open"),
    ({"Kind": {"const": "SO"}}, "Kind", "SO"),
    ({"Memo": {"template": "Order {order_number} ({currency})"}}, "Memo", "Order 42 (EUR)"),
    ({"Big": {"expr": "total > 1000 and effective_date > date('2026-01-01')"}}, "Big", True),
    ({"Net": {"expr": "round(total / 2, 2)"}}, "Net", Decimal("617.25")),
    ({"Customer": {"path": "account_id", "ref": "account"}}, "Customer", "s-acc"),
    (
        {"Items": {"path": "lines", "each": {"Qty": {"path": "quantity", "type": "integer"}}}},
        "Items",
        [{"Qty": 2}],
    ),
    ({"Ref": {"join": ["order_number", "currency"], "separator": "/"}}, "Ref", "42/EUR"),
]


@pytest.mark.parametrize(("rules", "key", "expected"), OUTBOUND)
def test_outbound_rule_produces_the_payload_value(
    tmp_path: Path, rules: dict[str, Any], key: str, expected: Any
) -> None:
    assert outbound(tmp_path, "order", rules, CANONICAL_ORDER)[key] == expected


def test_outbound_when_false_leaves_the_target_field_out(tmp_path: Path) -> None:
    rules = {"Cancelled": {"const": True, "when": "status == 'cancelled'"}}

    assert outbound(tmp_path, "order", rules, CANONICAL_ORDER) == {}


ADDRESS = {"street": "1 Main\nFloor 2", "city": "Boston", "postal_code": "02139"}


def test_outbound_compound_split_and_join_build_system_addresses(tmp_path: Path) -> None:
    rules = {
        "BillingAddress": {
            "path": "billing_address",
            "split": {"street": "street", "postalCode": "postal_code"},
        },
        "address": {
            "path": "billing_address.street",
            "split": {"separator": "\n", "into": ["line1", "line2"]},
        },
        "address.city": {"path": "billing_address.city"},
        "Full": {"join": {"s": "billing_address.street", "c": "billing_address.city"}},
    }

    payload = outbound(tmp_path, "account", rules, {"billing_address": ADDRESS})

    assert payload == {
        "BillingAddress": {"street": "1 Main\nFloor 2", "postalCode": "02139"},
        "address": {"line1": "1 Main", "line2": "Floor 2", "city": "Boston"},
        "Full": {"s": "1 Main\nFloor 2", "c": "Boston"},
    }


def test_outbound_money_with_more_places_than_its_currency_is_a_mapping_error(
    tmp_path: Path,
) -> None:
    rules = {"Total": {"path": "total", "type": "money", "currency": "currency"}}

    with pytest.raises(MappingError) as raised:
        outbound(tmp_path, "order", rules, {**CANONICAL_ORDER, "currency": "JPY"})

    assert raised.value.field == "Total"


def test_outbound_ref_not_written_there_yet_is_unresolved(tmp_path: Path) -> None:
    mapping = load_entity(
        tmp_path, "order", {"C": {"path": "account_id", "ref": "account"}}, inbound=False
    )

    class Unknown(Xref):
        def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
            return None

    with pytest.raises(UnresolvedReference):
        mapping.from_canonical({"id": "c1", **CANONICAL_ORDER}, Unknown())


def test_fingerprint_is_stable_and_changes_with_the_rules(tmp_path: Path) -> None:
    first = load_entity(tmp_path, "order", {"No": {"path": "order_number"}}, inbound=False)
    same = load_entity(
        tmp_path, "order", {"No": {"path": "order_number", "required": False}}, inbound=False
    )
    changed = load_entity(
        tmp_path, "order", {"No": {"path": "order_number", "required": True}}, inbound=False
    )

    assert first.fingerprint == same.fingerprint
    assert first.fingerprint != changed.fingerprint
    assert len(first.fingerprint) == 64


def test_order_fingerprint_changes_when_its_order_line_mapping_changes(tmp_path: Path) -> None:
    shipped = shipped_mapping_files()
    salesforce = next(path for path in shipped if path.name == "salesforce.yaml")
    edited = tmp_path / "salesforce.yaml"
    edited.write_text(
        salesforce.read_text(encoding="utf-8").replace(
            "quantity: {path: Quantity, type: decimal}", "quantity: {path: Quantity, type: integer}"
        ),
        encoding="utf-8",
    )
    others = [path for path in shipped if path.name != "salesforce.yaml"]

    before = load_mapping_set().system("salesforce").entities
    after = load_mapping_set([*others, edited]).system("salesforce").entities

    assert before["order"].fingerprint != after["order"].fingerprint
    assert before["account"].fingerprint == after["account"].fingerprint


def test_filter_is_exposed_for_the_connector_query(tmp_path: Path) -> None:
    doc = {
        "version": 2,
        "system": "crm",
        "entities": {
            "account": {
                "object": "Account",
                "cursor": "Modified",
                "system_of_record": True,
                "filter": "Type != 'Prospect'",
                "fields": REQUIRED["account"],
            }
        },
    }
    path = tmp_path / "crm.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")

    assert load_mapping_set([path]).system("crm").entities["account"].filter == "Type != 'Prospect'"
