"""SuiteTalk faults and HTTP failures are classified once, at the ERP connector's boundary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]

from connectors.erp import classify_fault
from connectors.errors import AuthError, ConfigError, RateLimited

FAULTS_NS = "urn:faults_2023_2.platform.webservices.netsuite.com"


def _fault(element: str, code: str, message: str = "refused") -> zeep.exceptions.Fault:
    detail = etree.fromstring(
        f'<detail><f:{element} xmlns:f="{FAULTS_NS}"><f:code>{code}</f:code>'
        f"<f:message>{message}</f:message></f:{element}></detail>"
    )
    code = "soapenv:Server.userException"
    return zeep.exceptions.Fault(message, code=code, detail=detail)  # type: ignore[no-untyped-call]


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
