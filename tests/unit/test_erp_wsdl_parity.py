"""The compact WSDL agrees with NetSuite's real SuiteTalk 2023.2 WSDL and XSDs for our subset."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import zeep
from lxml import etree  # type: ignore[import-untyped]

from connectors.base import WriteOutcome
from connectors.erp import RECORD_NAMESPACES, RecordBuilder, write_results
from connectors.errors import TransientError

SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"
CUSTOMER = {
    "externalId": "rb-acc-1",
    "companyName": "Acme & Sons <Ltd>",
    "accountNumber": "ACC-001",
    "phone": "+1 555 0100",
    "url": "https://acme.example",
    "email": "billing@acme.example",
    "isInactive": False,
    "currency": {"internalId": "1"},
}
SERVICE_SALE_ITEM = {
    "externalId": "rb-prod-1",
    "itemId": "SKU-PLAT-01",
    "displayName": "Platform licence",
    "salesDescription": "Annual platform licence",
    "isInactive": False,
}
SALES_ORDER = {
    "externalId": "rb-ord-1",
    "entity": {"externalId": "rb-acc-1"},
    "tranId": "00000100",
    "tranDate": "2026-01-05",
    "orderStatus": "_pendingFulfillment",
    "currency": {"internalId": "4"},
    "startDate": "2026-01-05",
    "endDate": "2027-01-04",
    "itemList": {
        "item": [
            {
                "item": {"externalId": "rb-prod-1"},
                "quantity": "3",
                "rate": "1200.00",
                "amount": "3600.00",
            },
            {
                "item": {"externalId": "rb-prod-2"},
                "quantity": "1.5",
                "rate": "99.99",
                "amount": "149.985",
            },
        ]
    },
}
PAYLOADS: list[tuple[str, Mapping[str, Any]]] = [
    ("Customer", CUSTOMER),
    ("ServiceSaleItem", SERVICE_SALE_ITEM),
    ("SalesOrder", SALES_ORDER),
]
REAL_XSDS = {
    "urn:messages_2023_2.platform.webservices.netsuite.com": "platform.messages.xsd",
    "urn:relationships_2023_2.lists.webservices.netsuite.com": "lists.relationships.xsd",
    "urn:accounting_2023_2.lists.webservices.netsuite.com": "lists.accounting.xsd",
    "urn:sales_2023_2.transactions.webservices.netsuite.com": "transactions.sales.xsd",
}


def _client(wsdl: Path) -> Any:
    settings = zeep.Settings(strict=False, forbid_dtd=True, forbid_entities=True)
    return zeep.Client(str(wsdl), settings=settings)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def compact_client() -> Any:
    wsdl = resources.files("connectors.sandbox.wsdl").joinpath("netsuite.wsdl")
    with resources.as_file(wsdl) as path:
        return _client(path)


@pytest.fixture(scope="module")
def real_client(reference_dir: Path) -> Any:
    return _client(reference_dir / "netsuite-suitetalk-2023.2" / "netsuite.wsdl")


@pytest.fixture(scope="module")
def real_schema(reference_dir: Path) -> etree.XMLSchema:
    xsd_dir = reference_dir / "netsuite-suitetalk-2023.2" / "xsd"
    imports = "".join(
        f'<xsd:import namespace="{namespace}" schemaLocation="{(xsd_dir / name).as_uri()}"/>'
        for namespace, name in REAL_XSDS.items()
    )
    wrapper = (
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="urn:revbridge:test">{imports}</xsd:schema>'
    )
    return etree.XMLSchema(etree.fromstring(wrapper))


def _upsert_list_body(client: Any, payloads: list[tuple[str, Mapping[str, Any]]]) -> etree._Element:
    builder = RecordBuilder()
    records = [
        builder.build(client.get_type(f"{{{RECORD_NAMESPACES[name].format(v='2023_2')}}}{name}"), p)
        for name, p in payloads
    ]
    envelope = client.create_message(client.service, "upsertList", record=records)
    return envelope.find(SOAP_BODY)


@pytest.mark.parametrize(("record_type", "payload"), PAYLOADS, ids=[name for name, _ in PAYLOADS])
def test_compact_wsdl_builds_the_same_upsert_list_body_as_the_real_wsdl(
    compact_client: Any, real_client: Any, record_type: str, payload: Mapping[str, Any]
) -> None:
    compact = _upsert_list_body(compact_client, [(record_type, payload)])
    real = _upsert_list_body(real_client, [(record_type, payload)])

    assert etree.tostring(compact, method="c14n") == etree.tostring(real, method="c14n")


def test_a_mixed_batch_body_is_identical_under_both_wsdls(
    compact_client: Any, real_client: Any
) -> None:
    compact = _upsert_list_body(compact_client, PAYLOADS)
    real = _upsert_list_body(real_client, PAYLOADS)

    assert etree.tostring(compact, method="c14n") == etree.tostring(real, method="c14n")


def test_upsert_list_body_validates_against_the_real_suitetalk_xsds(
    compact_client: Any, real_schema: etree.XMLSchema
) -> None:
    request = _upsert_list_body(compact_client, PAYLOADS)[0]
    document = etree.ElementTree(etree.fromstring(etree.tostring(request)))

    valid = real_schema.validate(document)

    assert valid, real_schema.error_log


def test_real_xsds_reject_a_date_sent_where_suitetalk_wants_a_datetime(
    compact_client: Any, real_schema: etree.XMLSchema
) -> None:
    request = _upsert_list_body(compact_client, [("SalesOrder", SALES_ORDER)])[0]
    tran_date = request.find(".//{urn:sales_2023_2.transactions.webservices.netsuite.com}tranDate")
    assert tran_date.text == "2026-01-05T00:00:00"
    tran_date.text = "2026-01-05"

    assert not real_schema.validate(etree.ElementTree(etree.fromstring(etree.tostring(request))))


def _recorded_reply(client: Any, reference_dir: Path, name: str) -> Any:
    raw = (reference_dir / "netsuite-recorded-responses" / "upsert_list" / name).read_bytes()
    # The recordings predate 2023.2; only the version inside each namespace differs.
    rewritten = re.sub(rb"_(20\d\d)_(\d)\.", b"_2023_2.", raw)
    if not rewritten.rstrip().endswith(b"</soapenv:Envelope>"):
        # Two recordings were cut short upstream, right before the closing Envelope tag.
        rewritten += b"</soapenv:Envelope>"
    envelope = etree.fromstring(rewritten, etree.XMLParser(resolve_entities=False, no_network=True))
    binding = next(iter(client.wsdl.bindings.values()))
    return binding.get("upsertList").process_reply(envelope)


@pytest.fixture(params=["compact", "real"])
def any_client(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_client")


def test_recorded_successful_upsert_list_maps_to_upserted_results_with_internal_ids(
    any_client: Any, reference_dir: Path
) -> None:
    reply = _recorded_reply(any_client, reference_dir, "upsert_list_customers.xml")

    results = write_results(["ext1", "ext2"], reply)

    assert [(r.external_id, r.outcome, r.target_id) for r in results] == [
        ("ext1", WriteOutcome.UPSERTED, "970"),
        ("ext2", WriteOutcome.UPSERTED, "974"),
    ]


def test_recorded_upsert_list_errors_map_to_rejected_results_with_code_and_message(
    any_client: Any, reference_dir: Path
) -> None:
    reply = _recorded_reply(any_client, reference_dir, "upsert_list_with_errors.xml")

    results = write_results(["ext1", "ext2"], reply)

    assert [(r.outcome, r.error_code, r.error_message, r.target_id) for r in results] == [
        (WriteOutcome.REJECTED, "USER_ERROR", "Please enter value(s) for: Item", None),
    ] * 2


def test_a_reply_with_fewer_results_than_records_is_not_silently_accepted(
    compact_client: Any, reference_dir: Path
) -> None:
    reply = _recorded_reply(compact_client, reference_dir, "upsert_list_one_customer.xml")

    with pytest.raises(TransientError, match="1 results for 2 records"):
        write_results(["ext1", "ext2"], reply)
