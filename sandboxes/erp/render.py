"""SOAP answers of the ERP sandbox, rendered in SuiteTalk 2023.2's shapes.

Records go out through zeep's own serialiser over the compact WSDL, so their element order,
namespaces and ``xsi:type`` are exactly what the schema says; envelopes and faults are lxml.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import zeep
from lxml import etree  # type: ignore[import-untyped]

from sandboxes.erp.store import UpsertOutcome

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MESSAGES = "urn:messages_2023_2.platform.webservices.netsuite.com"
CORE = "urn:core_2023_2.platform.webservices.netsuite.com"
FAULTS = "urn:faults_2023_2.platform.webservices.netsuite.com"
RECORD_NAMESPACES = {
    "Customer": "urn:relationships_2023_2.lists.webservices.netsuite.com",
    "ServiceSaleItem": "urn:accounting_2023_2.lists.webservices.netsuite.com",
    "InventoryItem": "urn:accounting_2023_2.lists.webservices.netsuite.com",
    "SalesOrder": "urn:sales_2023_2.transactions.webservices.netsuite.com",
    "Invoice": "urn:sales_2023_2.transactions.webservices.netsuite.com",
    "CustomerPayment": "urn:customers_2023_2.transactions.webservices.netsuite.com",
    "Contact": "urn:relationships_2023_2.lists.webservices.netsuite.com",
    "Estimate": "urn:sales_2023_2.transactions.webservices.netsuite.com",
    "CreditMemo": "urn:customers_2023_2.transactions.webservices.netsuite.com",
    "CustomRecord": "urn:customization_2023_2.setup.webservices.netsuite.com",
}
CUSTOM_FIELD_LIST = "customFieldList"
# Where the sandbox keeps a custom field's xsi:type (``StringCustomFieldRef``) while stored.
CUSTOM_FIELD_TYPE = "_type"
NSMAP = {"soapenv": SOAP_ENV, "xsi": XSI, "platformMsgs": MESSAGES, "platformCore": CORE}


class SoapFault(Exception):
    """A SuiteTalk fault the handler turns into a SOAP 1.1 Fault response."""

    def __init__(self, element: str | None, code: str, message: str) -> None:
        super().__init__(message)
        self.element, self.code, self.message = element, code, message


@functools.cache
def _schema() -> Any:
    """The compact WSDL as a zeep client, loaded once per process (from the package, offline)."""
    wsdl = resources.files("sandboxes.erp.wsdl").joinpath("netsuite.wsdl")
    with resources.as_file(wsdl) as path:
        return zeep.Client(str(path), settings=zeep.Settings(strict=False))  # type: ignore[no-untyped-call]


def typed_record(record_type: str, fields: Mapping[str, Any]) -> Any:
    """A stored record as a zeep value of its SuiteTalk type (fields it lacks are left out)."""
    xsd_type, names = _record_type(record_type)
    values = {name: value for name, value in fields.items() if name in names}
    if CUSTOM_FIELD_LIST in values:
        values[CUSTOM_FIELD_LIST] = {"customField": _custom_fields(values[CUSTOM_FIELD_LIST])}
    if isinstance(values.get("itemList"), Mapping):
        values["itemList"] = {
            **values["itemList"],
            "item": [_typed_line(line) for line in values["itemList"].get("item") or []],
        }
    return xsd_type(**values)


def _typed_line(line: Mapping[str, Any]) -> dict[str, Any]:
    """An item line with its custom column fields (``custcol_*``) as typed values."""
    if CUSTOM_FIELD_LIST not in line:
        return dict(line)
    return {**line, CUSTOM_FIELD_LIST: {"customField": _custom_fields(line[CUSTOM_FIELD_LIST])}}


def _custom_fields(listing: Mapping[str, Any]) -> list[Any]:
    """Stored custom fields as values of their own ``*CustomFieldRef`` types."""
    typed = []
    for field in listing.get("customField") or []:
        values = {name: value for name, value in field.items() if name != CUSTOM_FIELD_TYPE}
        typed.append(_schema().get_type(f"{{{CORE}}}{field[CUSTOM_FIELD_TYPE]}")(**values))
    return typed


@functools.cache
def _record_type(record_type: str) -> tuple[Any, frozenset[str]]:
    xsd_type = _schema().get_type(f"{{{RECORD_NAMESPACES[record_type]}}}{record_type}")
    names = [name for name, _ in xsd_type.elements] + [name for name, _ in xsd_type.attributes]
    return xsd_type, frozenset(names)


def record_ref(
    internal_id: str | None, ref_type: str | None, external_id: str | None = None
) -> Any:
    """A ``platformCore:RecordRef`` value."""
    ref_class = _schema().get_type(f"{{{CORE}}}RecordRef")
    return ref_class(internalId=internal_id, externalId=external_id, type=ref_type)


def _envelope() -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=NSMAP)
    header = etree.SubElement(root, f"{{{SOAP_ENV}}}Header")
    info = etree.SubElement(header, f"{{{MESSAGES}}}documentInfo")
    etree.SubElement(info, f"{{{MESSAGES}}}nsId").text = f"WEBSERVICES_SANDBOX_{time.time_ns()}"
    return root, etree.SubElement(root, f"{{{SOAP_ENV}}}Body")


def _serialised(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def message_envelope(element: str, value: Mapping[str, Any]) -> bytes:
    """A response envelope whose body is the messages element ``element`` holding ``value``."""
    root, body = _envelope()
    _schema().get_element(f"{{{MESSAGES}}}{element}").render(body, value)
    return _serialised(root)


def status(ok: bool, code: str = "", message: str = "") -> dict[str, Any]:
    """A ``platformCore:Status`` value."""
    if ok:
        return {"isSuccess": True}
    return {"isSuccess": False, "statusDetail": [{"code": code, "message": message}]}


def upsert_list_envelope(outcomes: Sequence[UpsertOutcome]) -> bytes:
    """``upsertListResponse`` with one writeResponse per record."""
    # Plain lxml rather than zeep: this is the sandbox's hot path (benchmarks, the demo).
    root, body = _envelope()
    response = etree.SubElement(body, f"{{{MESSAGES}}}upsertListResponse")
    response_list = etree.SubElement(response, f"{{{MESSAGES}}}writeResponseList")
    for outcome in outcomes:
        write_response = etree.SubElement(response_list, f"{{{MESSAGES}}}writeResponse")
        _status_element(write_response, outcome)
        if outcome.ref_type is None:
            continue
        ref = etree.SubElement(write_response, f"{{{MESSAGES}}}baseRef")
        # A custom record is answered with a CustomRecordRef naming its type by typeId.
        custom = outcome.type_id is not None
        for name, value in (
            ("internalId", outcome.internal_id),
            ("externalId", outcome.external_id),
            ("typeId" if custom else "type", outcome.type_id if custom else outcome.ref_type),
        ):
            if value is not None:
                ref.set(name, value)
        ref_type = "CustomRecordRef" if custom else "RecordRef"
        ref.set(f"{{{XSI}}}type", f"platformCore:{ref_type}")
    return _serialised(root)


def _status_element(parent: etree._Element, outcome: UpsertOutcome) -> None:
    element = etree.SubElement(parent, f"{{{CORE}}}status", isSuccess=str(outcome.ok).lower())
    if outcome.ok:
        return
    detail = etree.SubElement(element, f"{{{CORE}}}statusDetail", type="ERROR")
    etree.SubElement(detail, f"{{{CORE}}}code").text = outcome.code
    etree.SubElement(detail, f"{{{CORE}}}message").text = outcome.message


def server_time_envelope(now: str) -> bytes:
    """``getServerTimeResponse`` at ``now``."""
    result = {"status": status(True), "serverTime": now}
    return message_envelope("getServerTimeResponse", {"getServerTimeResult": result})


def fault_envelope(error: SoapFault) -> bytes:
    """A SOAP 1.1 fault; with a SuiteTalk fault element in its detail when ``element`` is set."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(root, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = "soapenv:Server.userException"
    etree.SubElement(fault, "faultstring").text = error.message
    if error.element is not None:
        detail = etree.SubElement(fault, "detail")
        suite_fault = etree.SubElement(
            detail, f"{{{FAULTS}}}{error.element}", nsmap={"platformFaults": FAULTS}
        )
        etree.SubElement(suite_fault, f"{{{FAULTS}}}code").text = error.code
        etree.SubElement(suite_fault, f"{{{FAULTS}}}message").text = error.message
    return _serialised(root)


# Hostile answers for the XML-safety tests: a client must refuse them without expanding anything.
XXE_DOCUMENT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE soapenv:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<soapenv:Envelope xmlns:soapenv="' + SOAP_ENV.encode() + b'"><soapenv:Body>'
    b"<getServerTimeResponse>&xxe;</getServerTimeResponse></soapenv:Body></soapenv:Envelope>"
)
BILLION_LAUGHS_DOCUMENT = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode()
        for n in range(1, 10)
    )
    + b']>\n<soapenv:Envelope xmlns:soapenv="'
    + SOAP_ENV.encode()
    + b'"><soapenv:Body><x>&lol9;</x></soapenv:Body></soapenv:Envelope>'
)


def oversize_document(size: int) -> bytes:
    """A well-formed envelope of about ``size`` bytes (a comment pads it)."""
    root, _ = _envelope()
    head = _serialised(root)
    return head.replace(b"<soapenv:Header>", b"<!--" + b"x" * size + b"--><soapenv:Header>", 1)
