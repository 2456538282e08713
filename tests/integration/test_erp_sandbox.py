"""The SuiteTalk sandbox behaves like NetSuite where the ERP connector relies on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]

from connectors.erp.auth import new_token_passport
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MESSAGES = "urn:messages_2023_2.platform.webservices.netsuite.com"
RELATIONSHIPS = "urn:relationships_2023_2.lists.webservices.netsuite.com"
MARKER_SECRET = "MARKER-SECRET-51ab0e"


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ErpSandbox]:
    with ErpSandbox(consumer_secret=MARKER_SECRET) as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: ErpSandbox) -> ErpSandbox:
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture(scope="module")
def client(running_sandbox: ErpSandbox) -> Any:
    settings = zeep.Settings(strict=False)
    return zeep.Client(running_sandbox.wsdl_url, settings=settings)  # type: ignore[no-untyped-call]


def _passport(sandbox: ErpSandbox, **overrides: Any) -> dict[str, Any]:
    return {"tokenPassport": new_token_passport(erp_settings(sandbox, **overrides)).to_header()}


def _customers(client: Any, count: int) -> list[Any]:
    customer = client.get_type(f"{{{RELATIONSHIPS}}}Customer")
    return [customer(externalId=f"c{n}", companyName=f"Customer {n}") for n in range(count)]


def _fault_element(fault: zeep.exceptions.Fault) -> str:
    return str(etree.QName(fault.detail[0]).localname)


def test_wsdl_is_served_with_this_sandbox_as_the_service_address(sandbox: ErpSandbox) -> None:
    wsdl = requests.get(sandbox.wsdl_url, timeout=5).text

    assert f'location="{sandbox.endpoint_url}"' in wsdl
    assert "webservices.netsuite.com/services" not in wsdl


def test_plain_zeep_upserts_through_the_wsdl_address(sandbox: ErpSandbox, client: Any) -> None:
    reply = client.service.upsertList(record=_customers(client, 2), _soapheaders=_passport(sandbox))

    responses = reply["body"]["writeResponseList"]["writeResponse"]
    assert [r["baseRef"]["externalId"] for r in responses] == ["c0", "c1"]
    assert [r["baseRef"]["type"] for r in responses] == ["customer", "customer"]
    assert (
        sandbox.records[("Customer", "c1")]["internalId"] == responses[1]["baseRef"]["internalId"]
    )


def test_more_than_100_records_in_one_call_is_a_record_count_fault(
    sandbox: ErpSandbox, client: Any
) -> None:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.upsertList(record=_customers(client, 101), _soapheaders=_passport(sandbox))

    assert _fault_element(caught.value) == "exceededRecordCountFault"
    assert sandbox.records == {}


def test_a_missing_token_passport_is_an_invalid_session_fault(
    sandbox: ErpSandbox, client: Any
) -> None:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.getServerTime()

    assert _fault_element(caught.value) == "invalidSessionFault"


def test_a_replayed_passport_is_refused(sandbox: ErpSandbox, client: Any) -> None:
    envelope = client.create_message(
        client.service, "getServerTime", _soapheaders=_passport(sandbox)
    )
    body = etree.tostring(envelope)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"getServerTime"'}

    first = requests.post(sandbox.endpoint_url, data=body, headers=headers, timeout=5)
    replay = requests.post(sandbox.endpoint_url, data=body, headers=headers, timeout=5)

    assert first.status_code == 200
    assert replay.status_code == 500
    assert b"invalidCredentialsFault" in replay.content


def test_a_stale_passport_timestamp_is_refused(sandbox: ErpSandbox, client: Any) -> None:
    stale = new_token_passport(erp_settings(sandbox), clock=lambda: 1_000_000_000.0)

    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.getServerTime(_soapheaders={"tokenPassport": stale.to_header()})

    assert _fault_element(caught.value) == "invalidCredentialsFault"


def test_a_request_with_a_dtd_is_refused_without_expanding_entities(sandbox: ErpSandbox) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY boom "EXPANDED">]>'
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soapenv:Body><x>&boom;</x></soapenv:Body></soapenv:Envelope>"
    )

    response = requests.post(
        sandbox.endpoint_url, data=body, headers={"Content-Type": "text/xml"}, timeout=5
    )

    assert response.status_code == 500
    assert b"DTDs are not allowed" in response.content
    assert b"EXPANDED" not in response.content


def test_upsert_list_reply_validates_against_the_real_suitetalk_xsds(
    sandbox: ErpSandbox, client: Any, reference_dir: Path
) -> None:
    messages_xsd = reference_dir / "netsuite-suitetalk-2023.2" / "xsd" / "platform.messages.xsd"
    schema = etree.XMLSchema(etree.parse(str(messages_xsd)))
    customers = [*_customers(client, 1), client.get_type(f"{{{RELATIONSHIPS}}}Customer")()]
    envelope = client.create_message(
        client.service, "upsertList", record=customers, _soapheaders=_passport(sandbox)
    )
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"upsertList"'}

    reply = requests.post(
        sandbox.endpoint_url, data=etree.tostring(envelope), headers=headers, timeout=5
    )
    response = etree.fromstring(reply.content).find(f"{{{SOAP_ENV}}}Body")[0]

    assert response.tag == f"{{{MESSAGES}}}upsertListResponse"
    assert schema.validate(etree.ElementTree(response)), schema.error_log
    assert b"USER_ERROR" in reply.content


def test_unknown_fault_kinds_are_refused(sandbox: ErpSandbox) -> None:
    with pytest.raises(ValueError, match="unknown ERP fault kind"):
        sandbox.inject_fault("http_418")


def test_credentials_repr_hides_the_secrets(sandbox: ErpSandbox) -> None:
    assert MARKER_SECRET not in repr(sandbox.credentials)
    assert MARKER_SECRET not in repr(erp_settings(sandbox))
    assert sandbox.credentials.account in repr(sandbox.credentials)
