"""A loopback NetSuite SuiteTalk (SOAP) sandbox: upsertList, getList, search, searchMoreWithId,
getDeleted and getServerTime, and asyncUpsertList jobs (:mod:`sandboxes.erp.async_jobs`).

It serves its own compact WSDL at ``GET /wsdl`` and answers SOAP 1.1 document/literal calls at
``POST /services/NetSuitePort_2023_2``, checking the token passport (or a user passport) like
NetSuite does, so zeep runs against it unmodified. Faults are injected by count, by script or by
rate (see :mod:`sandboxes.erp.faults`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from importlib import resources
from types import TracebackType
from typing import Any, ClassVar

from lxml import etree  # type: ignore[import-untyped]

from sandboxes.erp.async_jobs import ASYNC_OPERATIONS, AsyncJobs
from sandboxes.erp.auth import ErpCredentials, PassportCheck
from sandboxes.erp.faults import FAULT_KINDS, FaultPlan
from sandboxes.erp.operations import answer_operation, records_of
from sandboxes.erp.render import (
    BILLION_LAUGHS_DOCUMENT,
    MESSAGES,
    SOAP_ENV,
    XXE_DOCUMENT,
    SoapFault,
    fault_envelope,
    oversize_document,
)
from sandboxes.erp.search import SearchSessions
from sandboxes.erp.seed import seed_receivables
from sandboxes.erp.store import Clock, ErpStore
from sandboxes.packed import PackedRecords
from sandboxes.server import LoopbackServer, SandboxRequestHandler

__all__ = ["FAULT_KINDS", "ErpCredentials", "ErpSandbox", "SoapFault"]

SERVICE_PATH = "/services/NetSuitePort_2023_2"
# The sandbox account's custom record types (script id -> internal id), as erp.yaml names them.
CUSTOM_RECORD_TYPES = {
    "customrecord_rb_contract": "101",
    "customrecord_rb_subscription": "102",
    "customrecord_rb_price": "103",
}
WSDL_ADDRESS = "https://webservices.netsuite.com/services/NetSuitePort_2023_2"
_XML = "text/xml; charset=utf-8"
# Faults answered as a SuiteTalk SOAP fault: (fault element or None, code, message).
_SOAP_FAULTS = {
    "concurrency": (
        "exceededConcurrentRequestLimitFault",
        "WS_REQUEST_BLOCKED",
        "The request could not be processed: too many concurrent requests.",
    ),
    "request_limit": (
        "exceededRequestLimitFault",
        "WS_REQUEST_BLOCKED",
        "Request limit exceeded.",
    ),
    "session": ("invalidSessionFault", "SESSION_TIMED_OUT", "Your session has timed out."),
    "invalid_record": (
        None,
        "",
        "org.xml.sax.SAXException: Invalid value for a field of the submitted record.",
    ),
}


class _ErpState:
    """Everything the handler threads share."""

    def __init__(self, credentials: ErpCredentials, clock: Clock) -> None:
        self.passports = PassportCheck(credentials)
        self.clock = clock
        self.store = ErpStore(clock)
        self.searches = SearchSessions()
        self.jobs = AsyncJobs(records_of)
        self.faults = FaultPlan()
        self.lock = threading.Lock()
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.operations: Counter[str] = Counter()
        self.latency_seconds = 2.0
        self.operation_latency: dict[str, float] = {}  # operation name ("*": any other) -> s
        self.concurrency_limit = 0  # more calls in flight are refused; 0: no limit
        self.oversize_bytes = 2_000_000
        self.poisoned: set[str] = set()
        self.recorded: list[bytes] | None = None  # list write bodies, once asked to record
        self.stopping = threading.Event()
        self.wsdl = b""


class _ErpHandler(SandboxRequestHandler):
    state: ClassVar[_ErpState]

    def do_GET(self) -> None:
        """Serve the compact WSDL."""
        if self.path.split("?")[0] != "/wsdl":
            self.send_body(404, b"not found", "text/plain")
            return
        if self.state.faults.next_fault(only=("http_503",)):
            self._send_unavailable()
            return
        self.send_body(200, self.state.wsdl, _XML)

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
        state = self.state
        with state.lock:
            state.calls += 1
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            over_limit = 0 < state.concurrency_limit < state.in_flight
        try:
            if over_limit:
                self._answered_with_fault("concurrency")
                return
            self._serve(body)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _serve(self, body: bytes) -> None:
        fault = self.state.faults.next_fault()
        if fault == "lost_reply":
            with contextlib.suppress(SoapFault):
                self._answer(body)  # the call is carried out; its reply never arrives
            self.close_connection = True
            return
        if fault is not None and self._answered_with_fault(fault):
            return
        try:
            response = self._answer(body)
        except SoapFault as error:
            self.send_body(500, fault_envelope(error), _XML)
            return
        self.send_body(200, response, _XML)

    def _answered_with_fault(self, fault: str) -> bool:
        """Act out ``fault``; False when the call should then be answered normally."""
        if fault == "latency":
            self.state.stopping.wait(self.state.latency_seconds)
            return False
        if fault == "drop":
            self.close_connection = True
            return True
        if fault == "http_503":
            self._send_unavailable()
        elif fault in {"xxe", "billion_laughs"}:
            self.send_body(200, XXE_DOCUMENT if fault == "xxe" else BILLION_LAUGHS_DOCUMENT, _XML)
        elif fault == "oversize":
            self.send_body(200, oversize_document(self.state.oversize_bytes), _XML)
        else:
            self.send_body(500, fault_envelope(SoapFault(*_SOAP_FAULTS[fault])), _XML)
        return True

    def _answer(self, body: bytes) -> bytes:
        envelope = _parse_envelope(body)
        header = envelope.find(f"{{{SOAP_ENV}}}Header")
        self.state.passports.verify(header)
        request = _body_request(envelope)
        operation = etree.QName(request).localname
        with self.state.lock:
            self.state.operations[operation] += 1
            latency = self.state.operation_latency
            delay = latency.get(operation, latency.get("*", 0.0))
        if delay:
            self.state.stopping.wait(delay)
        recording = operation == "upsertList" or operation in ASYNC_OPERATIONS
        if recording and self.state.recorded is not None:
            with self.state.lock:
                self.state.recorded.append(body)
        if operation == "upsertList" and self._poisoned(request):
            raise SoapFault(*_SOAP_FAULTS["invalid_record"])
        state = self.state
        if operation in ASYNC_OPERATIONS:
            return state.jobs.answer(operation, request, state.store)
        return answer_operation(operation, request, header, state.store, state.searches)

    def _poisoned(self, request: etree._Element) -> bool:
        external_ids = {record.get("externalId") for record in request}
        return bool(external_ids & self.state.poisoned)


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


class ErpSandbox:
    """A NetSuite SuiteTalk stand-in on 127.0.0.1 with in-memory records and fault injection."""

    def __init__(
        self,
        account: str = "TSTDRV1234567",
        consumer_key: str = "sandbox-consumer-key",
        consumer_secret: str = "sandbox-consumer-secret",  # noqa: S107 - loopback test double
        token_id: str = "sandbox-token-id",  # noqa: S107 - an id, not a secret
        token_secret: str = "sandbox-token-secret",  # noqa: S107 - loopback test double
        *,
        email: str = "integration@example.com",
        password: str = "sandbox-password",  # noqa: S107 - loopback test double
        clock: Clock = time.time,
    ) -> None:
        self.credentials = ErpCredentials(
            account, consumer_key, consumer_secret, token_id, token_secret, email, password
        )
        self._clock = clock
        self._state = _ErpState(self.credentials, clock)
        self._server = LoopbackServer(_ErpHandler, self._state)
        wsdl = resources.files("sandboxes.erp.wsdl").joinpath("netsuite.wsdl").read_bytes()
        self._state.wsdl = wsdl.replace(WSDL_ADDRESS.encode(), self.endpoint_url.encode())

    @property
    def url(self) -> str:
        """Base URL of the sandbox."""
        return self._server.url

    @property
    def server(self) -> LoopbackServer:
        """The HTTP server, for request gates in fault tests."""
        return self._server

    @property
    def wsdl_url(self) -> str:
        """Where the compact WSDL is served, with this server as the service address."""
        return f"{self.url}/wsdl"

    @property
    def endpoint_url(self) -> str:
        """The SOAP service address."""
        return f"{self.url}{SERVICE_PATH}"

    @property
    def records(self) -> PackedRecords[tuple[str, str]]:
        """Saved records by (record type, externalId), each with its ``internalId`` (copies)."""
        return self._state.store.records

    @property
    def upsert_count(self) -> Counter[str]:
        """Records saved (created or updated) per record type."""
        return self._state.store.upsert_count

    @property
    def calls(self) -> int:
        """SOAP requests received, including ones answered with an injected fault."""
        return self._state.calls

    @property
    def max_concurrent_calls(self) -> int:
        """The most SOAP calls this sandbox served at the same moment."""
        return self._state.max_in_flight

    @property
    def operations(self) -> Counter[str]:
        """Authenticated SOAP calls answered, per operation name."""
        return self._state.operations

    def delete(self, record_type: str, external_id: str) -> None:
        """Delete a record as a NetSuite user would; ``getDeleted`` reports it."""
        self._state.store.delete(record_type, external_id)

    def seed_receivables(self, customers: int = 3) -> list[tuple[str, str]]:
        """An invoice (two item lines) and a credit memo on it for each of a few customers, as
        NetSuite users would enter them; (invoice, credit memo) internalIds."""
        return seed_receivables(self._state.store, customers)

    def enter(self, record_type: str, fields: Mapping[str, Any]) -> str:
        """Save one record as a NetSuite user would in its UI (a payment applies itself);
        its internalId. Raises ValueError with NetSuite's message when it is refused."""
        outcome = self._state.store.upsert(record_type, fields)
        if not outcome.ok or outcome.internal_id is None:
            raise ValueError(f"{record_type} refused: {outcome.code} {outcome.message}")
        return str(outcome.internal_id)

    def inject_fault(self, kind: str, times: int = 1) -> None:
        """Fail the next ``times`` calls with ``kind`` (``http_503`` hits WSDL fetches too)."""
        self._state.faults.inject(kind, times)

    def script_faults(self, kinds: Iterable[str | None]) -> None:
        """One fault kind (or None: answer normally) per coming SOAP call, in order."""
        self._state.faults.script(kinds)

    def fault_rates(self, rates: Mapping[str, float], *, seed: int = 0) -> None:
        """Fail each SOAP call with each kind at its rate (seeded, so runs replay)."""
        self._state.faults.rates(rates, seed)

    def configure_faults(
        self, *, latency_seconds: float | None = None, oversize_bytes: int | None = None
    ) -> None:
        """Tune how long ``latency`` waits and how big ``oversize`` answers are."""
        if latency_seconds is not None:
            self._state.latency_seconds = latency_seconds
        if oversize_bytes is not None:
            self._state.oversize_bytes = oversize_bytes

    def set_call_latency(self, seconds: Mapping[str, float], concurrency_limit: int = 0) -> None:
        """Delay each authenticated call by ``seconds[operation]`` (``"*"``: any other), and
        refuse calls beyond ``concurrency_limit`` in flight as NetSuite does (0: no limit)."""
        self._state.operation_latency = dict(seconds)
        self._state.concurrency_limit = concurrency_limit

    def configure_async_jobs(self, *, checks_to_finish: int = 1, failing_jobs: int = 0) -> None:
        """Carry out each asyncUpsertList job on its ``checks_to_finish``-th status check, and
        end the next ``failing_jobs`` jobs ``failed``."""
        self._state.jobs.checks_to_finish = checks_to_finish
        self._state.jobs.failing_jobs = failing_jobs

    def poison(self, *external_ids: str) -> None:
        """Refuse any upsertList holding these records with a schema fault (no status list)."""
        self._state.poisoned.update(external_ids)

    def record_upserts(self) -> list[bytes]:
        """Keep the body of every upsertList and async job call from now on (for contract
        checks); the list."""
        with self._state.lock:
            self._state.recorded = []
            return self._state.recorded

    def cure(self, *external_ids: str) -> None:
        """Accept these records again after :meth:`poison`."""
        self._state.poisoned.difference_update(external_ids)

    def reset(self) -> None:
        """Forget all records, counters and pending faults (one server, many tests)."""
        with self._state.lock:
            self._state.store = ErpStore(self._clock)
            self._state.searches = SearchSessions()
            self._state.jobs = AsyncJobs(records_of)
            self._state.calls = 0
            self._state.max_in_flight = 0
            self._state.operations.clear()
            self._state.poisoned.clear()
            self._state.faults.clear()
            self._state.operation_latency = {}
            self._state.concurrency_limit = 0

    def connection_values(self, **overrides: Any) -> dict[str, Any]:
        """Where this sandbox is and its credentials, in the names of revbridge's ``erp`` settings.

        Plain values: the sandbox knows nothing of the product.
        """
        creds = self.credentials
        values: dict[str, Any] = {
            "wsdl_url": self.wsdl_url,
            "endpoint_url": self.endpoint_url,
            "account": creds.account,
            "consumer_key": creds.consumer_key,
            "consumer_secret": creds.consumer_secret,
            "token_id": creds.token_id,
            "token_secret": creds.token_secret,
            "email": creds.email,
            "password": creds.password,
            "custom_record_types": dict(CUSTOM_RECORD_TYPES),
        }
        return {**values, **overrides}

    def start(self) -> ErpSandbox:
        """Serve in a background thread; returns self."""
        self._state.stopping.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving; calls held by injected latency are let go."""
        self._state.stopping.set()
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
