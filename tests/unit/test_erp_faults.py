"""SuiteTalk faults and HTTP failures are classified once, at the ERP connector's boundary."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
import requests
import zeep.exceptions
import zeep.loader
from lxml import etree  # type: ignore[import-untyped]

from config.settings import ErpSettings
from connectors.erp.connector import classify_fault
from connectors.erp.transport import classified, new_client
from connectors.errors import AuthError, ConfigError, RateLimited, RecordRejected
from sandboxes.erp.render import BILLION_LAUGHS_DOCUMENT, XXE_DOCUMENT

FAULTS_NS = "urn:faults_2023_2.platform.webservices.netsuite.com"


def _fault(element: str, code: str, message: str = "refused") -> zeep.exceptions.Fault:
    detail = etree.fromstring(
        f'<detail><f:{element} xmlns:f="{FAULTS_NS}"><f:code>{code}</f:code>'
        f"<f:message>{message}</f:message></f:{element}></detail>"
    )
    code = "soapenv:Server.userException"
    return zeep.exceptions.Fault(message, code=code, detail=detail)  # type: ignore[no-untyped-call]


def test_a_fault_message_reads_as_one_sentence_with_what_to_do() -> None:
    fault = _fault("invalidCredentialsFault", "INVALID_LOGIN_CREDENTIALS", "Invalid login attempt.")

    message = str(classify_fault(fault))

    assert ".;" not in message
    assert "  " not in message
    assert "Invalid login attempt; check the ERP account" in message


@pytest.mark.parametrize(
    ("element", "error_class"),
    [
        ("invalidCredentialsFault", AuthError),
        ("invalidSessionFault", AuthError),
        ("exceededConcurrentRequestLimitFault", RateLimited),
        ("exceededRequestLimitFault", RateLimited),
        ("exceededRecordCountFault", ConfigError),
        ("insufficientPermissionFault", ConfigError),
    ],
)
def test_each_suitetalk_fault_maps_to_the_recovery_class(
    element: str, error_class: type[Exception]
) -> None:
    error = classify_fault(_fault(element, "SOME_CODE"))

    assert type(error) is error_class
    assert element in str(error)
    assert "SOME_CODE" in str(error)
    assert str(error).startswith("[erp]")


def test_a_fault_without_detail_is_a_config_error_naming_the_soap_fault_code() -> None:
    fault = zeep.exceptions.Fault("boom", code="soapenv:Server")  # type: ignore[no-untyped-call]

    error = classify_fault(fault)

    assert isinstance(error, ConfigError)
    assert "soapenv:Server" in str(error)


@pytest.mark.parametrize(
    ("recording", "error_class"),
    [
        ("failure_invalid_credentials.xml", AuthError),
        ("failure_concurrent_requests.xml", RateLimited),
    ],
)
def test_recorded_netsuite_faults_are_classified(
    reference_dir: Path, recording: str, error_class: type[Exception]
) -> None:
    raw = (reference_dir / "netsuite-recorded-responses" / "login" / recording).read_bytes()
    envelope = etree.fromstring(re.sub(rb"_(20\d\d)_(\d)\.", b"_2023_2.", raw))
    fault_node = envelope.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    fault = zeep.exceptions.Fault(  # type: ignore[no-untyped-call]
        fault_node.findtext("faultstring"),
        code=fault_node.findtext("faultcode"),
        detail=fault_node.find("detail"),
    )

    assert type(classify_fault(fault)) is error_class


def test_a_sax_schema_fault_blames_the_records_and_is_a_rejection() -> None:
    fault = zeep.exceptions.Fault(  # type: ignore[no-untyped-call]
        "org.xml.sax.SAXException: Invalid value for isInactive", code="soapenv:Server"
    )

    error = classify_fault(fault)

    assert isinstance(error, RecordRejected)
    assert error.code == "INVALID_XML"


@pytest.mark.parametrize(
    ("element", "code", "error_class"),
    [
        ("unexpectedErrorFault", "INVALID_REFKEY", RecordRejected),
        ("unexpectedErrorFault", "USER_ERROR", RecordRejected),
        ("unexpectedErrorFault", "INVALID_LOGIN_ATTEMPT", ConfigError),
        ("exceededRecordCountFault", "INVALID_RCRD_COUNT", ConfigError),
        ("exceededUsageLimitFault", "USAGE_LIMIT", RateLimited),
        ("invalidAccountFault", "INVALID_ACCOUNT", AuthError),
    ],
)
def test_fault_codes_that_blame_record_data_are_rejections_and_the_rest_are_not(
    element: str, code: str, error_class: type[Exception]
) -> None:
    error = classify_fault(_fault(element, code))

    assert type(error) is error_class
    if isinstance(error, RecordRejected):
        assert error.code == code


@pytest.mark.parametrize("document", [XXE_DOCUMENT, BILLION_LAUGHS_DOCUMENT])
def test_zeeps_own_parser_settings_refuse_a_dtd_too(document: bytes) -> None:
    wsdl = resources.files("sandboxes.erp.wsdl").joinpath("netsuite.wsdl")
    with resources.as_file(wsdl) as path:
        settings = ErpSettings(
            wsdl_url=str(path),
            account="a",
            consumer_key="k",
            consumer_secret="s",
            token_id="t",
            token_secret="u",
        )
        client = new_client(settings, requests.Session(), None)

    def parse() -> object:
        return zeep.loader.parse_xml(document, client.transport, settings=client.settings)

    with pytest.raises(ConfigError, match="DTD or entities"):
        classified(parse, classify_fault)
