"""Custom fields travel in ``customFieldList`` typed by their value, and read back as keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
import zeep
from lxml import etree  # type: ignore[import-untyped]

from connectors.erp.custom import record_type_name, unpacked
from connectors.erp.records import RecordBuilder, plain_record
from connectors.errors import ConfigError

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
CUSTOMIZATION = "urn:customization_2023_2.setup.webservices.netsuite.com"
CORE = "urn:core_2023_2.platform.webservices.netsuite.com"


@pytest.fixture(scope="module")
def client() -> Any:
    wsdl = resources.files("sandboxes.erp.wsdl").joinpath("netsuite.wsdl")
    with resources.as_file(wsdl) as path:
        return zeep.Client(str(path), settings=zeep.Settings(strict=False))  # type: ignore[no-untyped-call]


def _type_of(client: Any) -> Any:
    return lambda namespace, name: client.get_type(f"{{{namespace.format(v='2023_2')}}}{name}")


def _rendered(client: Any, payload: dict[str, Any]) -> etree._Element:
    record_type = client.get_type(f"{{{CUSTOMIZATION}}}CustomRecord")
    record = RecordBuilder(_type_of(client)).build(record_type, payload)
    envelope = client.create_message(client.service, "upsertList", record=[record])
    return envelope.find(".//{*}record")


def test_each_custom_field_is_typed_by_its_value_and_a_null_one_is_cleared(client: Any) -> None:
    payload = {
        "externalId": "ct-1",
        "recType": {"internalId": "101"},
        "custrecord_rb_contract_customer": {"externalId": "acc-1"},
        "custrecord_rb_contract_start": dt.date(2026, 1, 1),
        "custrecord_rb_contract_term": Decimal("12"),
        "custrecord_rb_contract_status": "activated",
        "custrecord_rb_contract_renews": False,
        "custrecord_rb_contract_end": None,
    }

    record = _rendered(client, payload)

    fields = {f.get("scriptId"): f for f in record.find(f"{{{CUSTOMIZATION}}}customFieldList")}
    types = {name: field.get(XSI_TYPE).rpartition(":")[2] for name, field in fields.items()}
    assert types == {
        "custrecord_rb_contract_customer": "SelectCustomFieldRef",
        "custrecord_rb_contract_start": "DateCustomFieldRef",
        "custrecord_rb_contract_term": "DoubleCustomFieldRef",
        "custrecord_rb_contract_status": "StringCustomFieldRef",
        "custrecord_rb_contract_renews": "BooleanCustomFieldRef",
    }
    value = fields["custrecord_rb_contract_customer"].find(f"{{{CORE}}}value")
    assert value.get("externalId") == "acc-1"
    assert fields["custrecord_rb_contract_start"].findtext(f"{{{CORE}}}value") == (
        "2026-01-01T00:00:00"
    )
    cleared = record.find(f"{{{CORE}}}nullFieldList")
    assert [name.text for name in cleared] == ["custrecord_rb_contract_end"]


def test_a_custom_field_on_a_record_without_a_custom_field_list_is_a_mapping_error(
    client: Any,
) -> None:
    customer = client.get_type("{urn:relationships_2023_2.lists.webservices.netsuite.com}Customer")

    with pytest.raises(ConfigError, match="Customer has no field 'custentity_rb_tier'"):
        RecordBuilder(_type_of(client)).build(customer, {"custentity_rb_tier": "gold"})


def test_a_custom_record_read_back_has_its_custom_fields_as_keys(client: Any) -> None:
    record_type = client.get_type(f"{{{CUSTOMIZATION}}}CustomRecord")
    select = client.get_type(f"{{{CORE}}}SelectCustomFieldRef")
    double = client.get_type(f"{{{CORE}}}DoubleCustomFieldRef")
    value = record_type(
        internalId="7",
        name="00000100",
        customFieldList={
            "customField": [
                select(scriptId="custrecord_rb_contract_customer", value={"internalId": "12"}),
                double(scriptId="custrecord_rb_contract_term", value=Decimal("12")),
            ]
        },
    )

    plain = plain_record(value)

    assert plain["custrecord_rb_contract_customer"] == {"internalId": "12"}
    assert Decimal(plain["custrecord_rb_contract_term"]) == 12
    assert "customFieldList" not in plain


def test_custom_record_script_ids_are_written_as_custom_records() -> None:
    assert record_type_name("customrecord_rb_contract") == "CustomRecord"
    assert record_type_name("Contact") == "Contact"
    assert unpacked({"customFieldList": None, "name": "x"}) == {"name": "x"}
