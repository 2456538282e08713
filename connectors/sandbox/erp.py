"""A loopback NetSuite SuiteTalk (SOAP) sandbox: ``upsertList`` and ``getServerTime``.

It serves its own compact WSDL at ``GET /wsdl`` and answers SOAP 1.1 document/literal calls at
``POST /services/NetSuitePort_2023_2``, checking the token passport like NetSuite does, so zeep
runs against it unmodified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from types import TracebackType
from typing import Any, ClassVar

from lxml import etree  # type: ignore[import-untyped]

from config.settings import ErpSettings
from connectors.sandbox.erp_store import ErpStore, UpsertOutcome
from connectors.sandbox.server import LoopbackServer, SandboxRequestHandler

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MESSAGES = "urn:messages_2023_2.platform.webservices.netsuite.com"
CORE = "urn:core_2023_2.platform.webservices.netsuite.com"
FAULTS = "urn:faults_2023_2.platform.webservices.netsuite.com"
RECORD_NAMESPACES = {
    "Customer": "urn:relationships_2023_2.lists.webservices.netsuite.com",
    "ServiceSaleItem": "urn:accounting_2023_2.lists.webservices.netsuite.com",
    "SalesOrder": "urn:sales_2023_2.transactions.webservices.netsuite.com",
}
NSMAP = {"soapenv": SOAP_ENV, "xsi": XSI, "platformMsgs": MESSAGES, "platformCore": CORE}
SERVICE_PATH = "/services/NetSuitePort_2023_2"
WSDL_ADDRESS = "https://webservices.netsuite.com/services/NetSuitePort_2023_2"
# SuiteTalk's synchronous limit for one upsertList call.
MAX_RECORDS_PER_CALL = 100
# NetSuite refuses passports whose timestamp is too far from its clock.
PASSPORT_MAX_SKEW_SECONDS = 300
FAULT_KINDS = ("http_503", "concurrency")


class SoapFault(Exception):
    """A SuiteTalk fault the handler turns into a SOAP 1.1 Fault response."""

    def __init__(self, element: str, code: str, message: str) -> None:
        super().__init__(message)
        self.element, self.code, self.message = element, code, message


@dataclass(frozen=True)
class ErpCredentials:
    """The five token-based-authentication values the sandbox accepts."""

    account: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    token_id: str
    token_secret: str = field(repr=False)


class _ErpState:
    """Everything the handler threads share; guarded by one lock."""

    def __init__(self, credentials: ErpCredentials) -> None:
        self.credentials = credentials
        self.store = ErpStore()
        self.lock = threading.Lock()
        self.calls = 0
        self.pending_faults: Counter[str] = Counter()
        self.seen_nonces: set[tuple[str, str]] = set()
        self.wsdl = b""

    def next_fault(self, kinds: tuple[str, ...] = FAULT_KINDS) -> str | None:
        with self.lock:
            for kind in kinds:
                if self.pending_faults[kind] > 0:
                    self.pending_faults[kind] -= 1
                    return kind
        return None

    def verify_passport(self, header: etree._Element | None) -> None:
        passport = None if header is None else header.find(f"{{{MESSAGES}}}tokenPassport")
        if passport is None:
            raise SoapFault(
                "invalidSessionFault", "WS_LOG_IN_REQD", "A token passport is required."
            )
        values = {etree.QName(child).localname: child for child in passport}
        text = {name: (element.text or "").strip() for name, element in values.items()}
        if not self._passport_is_valid(text, values.get("signature")):
            raise SoapFault(
                "invalidCredentialsFault", "INVALID_LOGIN_CREDENTIALS", "Invalid login attempt."
            )

    def _passport_is_valid(self, text: dict[str, str], signature: etree._Element | None) -> bool:
        creds = self.credentials
        if signature is None or signature.get("algorithm") != "HMAC-SHA256":
            return False
        if (text.get("account"), text.get("consumerKey"), text.get("token")) != (
            creds.account,
            creds.consumer_key,
            creds.token_id,
        ):
            return False
        nonce, timestamp = text.get("nonce", ""), text.get("timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > PASSPORT_MAX_SKEW_SECONDS:
            return False
        base = f"{creds.account}&{creds.consumer_key}&{creds.token_id}&{nonce}&{timestamp}"
        key = f"{creds.consumer_secret}&{creds.token_secret}".encode()
        expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, text.get("signature", "")):
            return False
        with self.lock:
            if (nonce, timestamp) in self.seen_nonces:
                return False
            self.seen_nonces.add((nonce, timestamp))
        return True


class _ErpHandler(SandboxRequestHandler):
    state: ClassVar[_ErpState]

    def do_GET(self) -> None:
        """Serve the compact WSDL."""
        if self.path.split("?")[0] != "/wsdl":
            self.send_body(404, b"not found", "text/plain")
            return
        if self.state.next_fault(kinds=("http_503",)):
            self._send_unavailable()
            return
        self.send_body(200, self.state.wsdl, "text/xml; charset=utf-8")

    def _send_unavailable(self) -> None:
        # NetSuite's front end answers overload with an HTML page, not a SOAP fault.
        page = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
        self.send_body(503, page, "text/html; charset=utf-8")

    def do_POST(self) -> None:
        """Answer one SOAP call, or an injected fault."""
        body = self.read_body()
        if self.path != SERVICE_PATH:
            self.send_body(404, b"not found", "text/plain")
            return
        with self.state.lock:
            self.state.calls += 1
        fault = self.state.next_fault()
        if fault == "http_503":
            self._send_unavailable()
            return
        try:
            if fault == "concurrency":
                raise SoapFault(
                    "exceededConcurrentRequestLimitFault",
                    "WS_REQUEST_BLOCKED",
                    "The request could not be processed: too many concurrent requests.",
                )
            response = self._answer(body)
        except SoapFault as error:
            self.send_body(500, _fault_envelope(error), "text/xml; charset=utf-8")
            return
        self.send_body(200, response, "text/xml; charset=utf-8")

    def _answer(self, body: bytes) -> bytes:
        envelope = _parse_envelope(body)
        self.state.verify_passport(envelope.find(f"{{{SOAP_ENV}}}Header"))
        request = _body_request(envelope)
        operation = etree.QName(request).localname
        if operation == "getServerTime":
            return _server_time_envelope()
        if operation != "upsertList":
            raise SoapFault(
                "unexpectedErrorFault", "UNEXPECTED_ERROR", f"Unsupported operation {operation}."
            )
        records = [child for child in request if child.tag == f"{{{MESSAGES}}}record"]
        if len(records) > MAX_RECORDS_PER_CALL:
            message = (
                f"upsertList takes at most {MAX_RECORDS_PER_CALL} records; got {len(records)}."
            )
            raise SoapFault("exceededRecordCountFault", "MAX_RCRDS_EXCEEDED", message)
        outcomes = [self._upsert(record) for record in records]
        return _upsert_list_envelope(outcomes)

    def _upsert(self, record: etree._Element) -> UpsertOutcome:
        record_type = _record_type(record)
        return self.state.store.upsert(record_type, _fields(record))


def _parse_envelope(body: bytes) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as error:
        raise SoapFault(
            "unexpectedErrorFault", "UNEXPECTED_ERROR", f"Malformed XML: {error}"
        ) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SoapFault("unexpectedErrorFault", "UNEXPECTED_ERROR", "DTDs are not allowed.")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("unexpectedErrorFault", "UNEXPECTED_ERROR", "Not a SOAP 1.1 envelope.")
    return root


def _body_request(envelope: etree._Element) -> etree._Element:
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    children = [] if body is None else [child for child in body if isinstance(child.tag, str)]
    if not children or etree.QName(children[0]).namespace != MESSAGES:
        raise SoapFault("unexpectedErrorFault", "UNEXPECTED_ERROR", "No SuiteTalk request in Body.")
    return children[0]


def _record_type(record: etree._Element) -> str:
    """Resolve ``xsi:type="prefix:Customer"``; a wrong namespace makes the type unknown."""
    prefix, _, local = (record.get(f"{{{XSI}}}type") or "").rpartition(":")
    namespace = record.nsmap.get(prefix or None)
    return local if RECORD_NAMESPACES.get(local) == namespace else f"{{{namespace}}}{local}"


def _fields(element: etree._Element) -> dict[str, Any]:
    """Turn a record element into plain data: attributes and children by local name."""
    fields: dict[str, Any] = {k: v for k, v in element.attrib.items() if not k.startswith("{")}
    as_list = etree.QName(element).localname.endswith("List")
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        value = _fields(child) if len(child) or child.attrib else (child.text or "")
        if as_list:
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return fields


def _envelope() -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=NSMAP)
    header = etree.SubElement(root, f"{{{SOAP_ENV}}}Header")
    info = etree.SubElement(header, f"{{{MESSAGES}}}documentInfo")
    etree.SubElement(info, f"{{{MESSAGES}}}nsId").text = f"WEBSERVICES_SANDBOX_{time.time_ns()}"
    return root, etree.SubElement(root, f"{{{SOAP_ENV}}}Body")


def _status(parent: etree._Element, outcome: UpsertOutcome) -> None:
    status = etree.SubElement(parent, f"{{{CORE}}}status", isSuccess=str(outcome.ok).lower())
    if outcome.ok:
        return
    detail = etree.SubElement(status, f"{{{CORE}}}statusDetail", type="ERROR")
    etree.SubElement(detail, f"{{{CORE}}}code").text = outcome.code
    etree.SubElement(detail, f"{{{CORE}}}message").text = outcome.message


def _upsert_list_envelope(outcomes: list[UpsertOutcome]) -> bytes:
    root, body = _envelope()
    response = etree.SubElement(body, f"{{{MESSAGES}}}upsertListResponse")
    response_list = etree.SubElement(response, f"{{{MESSAGES}}}writeResponseList")
    for outcome in outcomes:
        write_response = etree.SubElement(response_list, f"{{{MESSAGES}}}writeResponse")
        _status(write_response, outcome)
        ref = etree.SubElement(write_response, f"{{{MESSAGES}}}baseRef")
        for name, value in (
            ("internalId", outcome.internal_id),
            ("externalId", outcome.external_id),
            ("type", outcome.ref_type),
        ):
            if value is not None:
                ref.set(name, value)
        ref.set(f"{{{XSI}}}type", "platformCore:RecordRef")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _server_time_envelope() -> bytes:
    root, body = _envelope()
    response = etree.SubElement(body, f"{{{MESSAGES}}}getServerTimeResponse")
    result = etree.SubElement(response, f"{{{CORE}}}getServerTimeResult")
    etree.SubElement(result, f"{{{CORE}}}status", isSuccess="true")
    server_time = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    etree.SubElement(result, f"{{{CORE}}}serverTime").text = server_time
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _fault_envelope(error: SoapFault) -> bytes:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(root, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = "soapenv:Server.userException"
    etree.SubElement(fault, "faultstring").text = error.message
    detail = etree.SubElement(fault, "detail")
    suite_fault = etree.SubElement(
        detail, f"{{{FAULTS}}}{error.element}", nsmap={"platformFaults": FAULTS}
    )
    etree.SubElement(suite_fault, f"{{{FAULTS}}}code").text = error.code
    etree.SubElement(suite_fault, f"{{{FAULTS}}}message").text = error.message
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


class ErpSandbox:
    """A NetSuite SuiteTalk stand-in on 127.0.0.1 with in-memory records and fault injection."""

    def __init__(
        self,
        account: str = "TSTDRV1234567",
        consumer_key: str = "sandbox-consumer-key",
        consumer_secret: str = "sandbox-consumer-secret",  # noqa: S107 - loopback test double
        token_id: str = "sandbox-token-id",  # noqa: S107 - an id, not a secret
        token_secret: str = "sandbox-token-secret",  # noqa: S107 - loopback test double
    ) -> None:
        self.credentials = ErpCredentials(
            account, consumer_key, consumer_secret, token_id, token_secret
        )
        self._state = _ErpState(self.credentials)
        self._server = LoopbackServer(_ErpHandler, self._state)
        wsdl = resources.files("connectors.sandbox.wsdl").joinpath("netsuite.wsdl").read_bytes()
        self._state.wsdl = wsdl.replace(WSDL_ADDRESS.encode(), self.endpoint_url.encode())

    @property
    def url(self) -> str:
        """Base URL of the sandbox."""
        return self._server.url

    @property
    def wsdl_url(self) -> str:
        """Where the compact WSDL is served, with this server as the service address."""
        return f"{self.url}/wsdl"

    @property
    def endpoint_url(self) -> str:
        """The SOAP service address."""
        return f"{self.url}{SERVICE_PATH}"

    @property
    def records(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Saved records by (record type, externalId), each with its ``internalId``."""
        return self._state.store.records

    @property
    def upsert_count(self) -> Counter[str]:
        """Records saved (created or updated) per record type."""
        return self._state.store.upsert_count

    @property
    def calls(self) -> int:
        """SOAP requests received, including ones answered with an injected fault."""
        return self._state.calls

    def inject_fault(self, kind: str, times: int = 1) -> None:
        """Fail the next ``times`` calls with ``http_503`` (WSDL fetches too) or ``concurrency``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown ERP fault kind {kind!r}; expected one of {FAULT_KINDS}")
        with self._state.lock:
            self._state.pending_faults[kind] += times

    def reset(self) -> None:
        """Forget all records, counters and pending faults (one server, many tests)."""
        with self._state.lock:
            self._state.store = ErpStore()
            self._state.calls = 0
            self._state.pending_faults.clear()

    def erp_settings(self, **overrides: Any) -> ErpSettings:
        """ERP settings that point at this sandbox with its credentials."""
        values: dict[str, Any] = {
            "wsdl_url": self.wsdl_url,
            "endpoint_url": self.endpoint_url,
            "account": self.credentials.account,
            "consumer_key": self.credentials.consumer_key,
            "consumer_secret": self.credentials.consumer_secret,
            "token_id": self.credentials.token_id,
            "token_secret": self.credentials.token_secret,
        }
        return ErpSettings.model_validate({**values, **overrides})

    def start(self) -> ErpSandbox:
        """Serve in a background thread; returns self."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> ErpSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
