"""Payload dicts become typed SuiteTalk records, with values converted the way the XSD wants."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
import zeep
from lxml import etree  # type: ignore[import-untyped]

from connectors.erp.records import PayloadError, RecordBuilder
from connectors.errors import ConfigError

SALES = "urn:sales_2023_2.transactions.webservices.netsuite.com"
RELATIONSHIPS = "urn:relationships_2023_2.lists.webservices.netsuite.com"


@pytest.fixture(scope="module")
def client() -> Any:
    wsdl = resources.files("sandboxes.erp.wsdl").joinpath("netsuite.wsdl")
    with resources.as_file(wsdl) as path:
        settings = zeep.Settings(strict=False, forbid_dtd=True)
        return zeep.Client(str(path), settings=settings)  # type: ignore[no-untyped-call]


def _rendered(client: Any, record: Any) -> etree._Element:
    envelope = client.create_message(client.service, "upsertList", record=[record])
    return envelope.find(".//{urn:messages_2023_2.platform.webservices.netsuite.com}record")


def test_decimal_strings_render_exactly_for_xsd_double_fields(client: Any) -> None:
    order_type = client.get_type(f"{{{SALES}}}SalesOrder")
    payload = {
        "externalId": "o1",
        "itemList": {"item": [{"quantity": "0.1", "rate": "1200.00", "amount": "0.30"}]},
    }

    line = _rendered(client, RecordBuilder().build(order_type, payload)).find(f".//{{{SALES}}}item")

    assert line.findtext(f"{{{SALES}}}quantity") == "0.1"
    assert line.findtext(f"{{{SALES}}}rate") == "1200.00"
    assert line.findtext(f"{{{SALES}}}amount") == "0.30"


def test_dates_become_midnight_datetimes_and_booleans_accept_text(client: Any) -> None:
    order_type = client.get_type(f"{{{SALES}}}SalesOrder")
    customer_type = client.get_type(f"{{{RELATIONSHIPS}}}Customer")
    builder = RecordBuilder()

    order = builder.build(order_type, {"externalId": "o1", "tranDate": "2026-01-05"})
    customer = builder.build(customer_type, {"externalId": "c1", "isInactive": "TRUE"})

    assert order.tranDate == dt.datetime(2026, 1, 5)
    assert customer.isInactive is True


def test_nulls_are_left_out_rather_than_sent_as_empty_elements(client: Any) -> None:
    customer_type = client.get_type(f"{{{RELATIONSHIPS}}}Customer")

    record = RecordBuilder().build(customer_type, {"externalId": "c1", "phone": None})
    element = _rendered(client, record)

    assert element.find(f"{{{RELATIONSHIPS}}}phone") is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tranDate": "05/01/2026"}, "tranDate"),
        ({"itemList": {"item": [{"quantity": "three"}]}}, "itemList.item.quantity"),
        ({"itemList": {"item": [{"amount": "NaN"}]}}, "itemList.item.amount"),
        ({"itemList": {"item": {"quantity": "1"}}}, "itemList.item"),
        ({"entity": "cust-1"}, "entity"),
        ({"tranId": {"nested": "x"}}, "tranId"),
    ],
)
def test_values_that_do_not_fit_the_xsd_raise_payload_error_naming_the_field(
    client: Any, payload: dict[str, Any], field: str
) -> None:
    order_type = client.get_type(f"{{{SALES}}}SalesOrder")

    with pytest.raises(PayloadError) as caught:
        RecordBuilder().build(order_type, {"externalId": "o1", **payload})

    assert caught.value.field == field


def test_a_field_the_record_type_does_not_have_is_a_config_error(client: Any) -> None:
    customer_type = client.get_type(f"{{{RELATIONSHIPS}}}Customer")

    with pytest.raises(ConfigError, match=r"Customer has no field 'currency\.isoCode'"):
        RecordBuilder().build(customer_type, {"currency": {"isoCode": "USD"}})


def test_decimal_and_date_objects_are_accepted_as_well_as_strings(client: Any) -> None:
    order_type = client.get_type(f"{{{SALES}}}SalesOrder")
    payload = {
        "tranDate": dt.date(2026, 2, 1),
        "itemList": {"item": [{"quantity": Decimal("2"), "amount": 10}]},
    }

    order = RecordBuilder().build(order_type, payload)

    assert order.tranDate == dt.datetime(2026, 2, 1)
    assert order.itemList.item[0].quantity == Decimal("2")
    assert order.itemList.item[0].amount == Decimal("10")


def test_none_fields_of_a_record_go_into_its_null_field_list(client: Any) -> None:
    customer = client.get_type(f"{{{RELATIONSHIPS}}}Customer")
    payload = {"externalId": "c1", "companyName": "Acme", "phone": None, "currency": None}

    element = _rendered(client, RecordBuilder().build(customer, payload))

    names = element.findall("{*}nullFieldList/{*}name")
    assert [name.text for name in names] == ["phone", "currency"]
    assert element.find(f"{{{RELATIONSHIPS}}}phone") is None


def test_a_reference_whose_values_are_all_none_is_cleared_as_a_whole(client: Any) -> None:
    customer = client.get_type(f"{{{RELATIONSHIPS}}}Customer")
    payload = {"externalId": "c1", "companyName": "Acme", "currency": {"internalId": None}}

    element = _rendered(client, RecordBuilder().build(customer, payload))

    assert [name.text for name in element.findall("{*}nullFieldList/{*}name")] == ["currency"]


def test_none_inside_a_line_is_left_out_not_nulled(client: Any) -> None:
    order_type = client.get_type(f"{{{SALES}}}SalesOrder")
    payload = {"externalId": "o1", "itemList": {"item": [{"quantity": "1", "rate": None}]}}

    element = _rendered(client, RecordBuilder().build(order_type, payload))

    assert element.find("{*}nullFieldList") is None
    assert element.find(f".//{{{SALES}}}rate") is None


def test_an_unknown_field_is_a_config_error_even_when_none(client: Any) -> None:
    customer = client.get_type(f"{{{RELATIONSHIPS}}}Customer")

    with pytest.raises(ConfigError, match="no field 'fax'"):
        RecordBuilder().build(customer, {"externalId": "c1", "fax": None})
