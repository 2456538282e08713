"""One SuiteTalk SOAP session: the WSDL loaded once, authenticated calls, retries, a call limit.

Operations are called by their logical name (``upsert``, ``get``, ``search``, ...); the SOAP
operation behind each comes from ``erp.operations``, so a WSDL with other names still works.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import requests
import zeep
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]
from zeep.cache import Base as WsdlCache

from config.settings import ErpSettings, RetrySettings
from connectors.erp.auth import new_token_passport, user_passport
from connectors.erp.faults import classify_fault
from connectors.erp.records import MESSAGES_NAMESPACE, SYSTEM
from connectors.erp.replies import WriteAnswer, write_answers
from connectors.erp.transport import CappedTransport, cache_for, classified, new_client
from connectors.errors import ConfigError, RecordRejected
from connectors.retry import retry_policy

_CORE_NAMESPACE = re.compile(r"^urn:core_(\d{4}_\d)\.platform\.webservices\.netsuite\.com$")
_T = TypeVar("_T")

# NetSuite limits concurrent calls per account, not per connector: every session of one
# account in this process shares one limit.
_account_limits: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_account_limits_lock = threading.Lock()


def account_limit(account: str, concurrency: int) -> threading.BoundedSemaphore:
    """The semaphore shared by every session of ``account`` in this process."""
    with _account_limits_lock:
        key = (account, concurrency)
        if key not in _account_limits:
            _account_limits[key] = threading.BoundedSemaphore(concurrency)
        return _account_limits[key]


class SoapSession:
    """Loads the WSDL once and makes authenticated, retried, concurrency-limited calls."""

    def __init__(
        self,
        settings: ErpSettings,
        retry: RetrySettings,
        *,
        wsdl_cache: WsdlCache | Literal["user"] | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.settings = settings
        self._retry = retry
        self._sleep = sleep
        self._wsdl_cache = wsdl_cache
        self._http = requests.Session()
        self._client: zeep.Client | None = None
        self._service: Any = None
        self._load_lock = threading.Lock()
        # Custom fields look up their type per value: thousands of lookups a page, few types.
        self._types: dict[tuple[str, str], Any] = {}
        self._limit = account_limit(settings.account, settings.concurrency)
        self.version = ""

    @property
    def calls_sent(self) -> int:
        """SOAP calls sent so far, retries included (0 before the WSDL is loaded)."""
        transport = getattr(self._client, "transport", None)
        return transport.posts_sent if isinstance(transport, CappedTransport) else 0

    def call(self, operation: str, headers: dict[str, Any] | None = None, **body: Any) -> Any:
        """Call logical ``operation`` with retries; the body of the answer, headers stripped."""

        def send(method: Any, soap_headers: Any) -> Any:
            response = method(**body, _soapheaders=soap_headers)
            # zeep wraps the body as {header, body} when the output declares headers.
            return response["body"] if "body" in response else response  # noqa: SIM401

        return self._call(operation, headers or {}, send)

    def call_list_write(
        self, operation: str, *, retried: bool = True, **body: Any
    ) -> list[WriteAnswer]:
        """Call a list write (``upsert``, ``delete``) with retries; its writeResponses in order.

        The reply is read by :mod:`connectors.erp.replies`, not zeep: the request is the same.
        ``retried=False`` sends it once, for a caller that must rebuild the request before
        trying again (a change computed from what NetSuite held).
        """

        def send(method: Any, soap_headers: Any) -> list[WriteAnswer]:
            assert self._client is not None  # loaded by self._operation
            with self._client.settings(raw_response=True):  # per thread in zeep
                reply = method(**body, _soapheaders=soap_headers)
            return write_answers(reply, self._client)

        return self._call(operation, {}, send, records_sent=True, retried=retried)

    def _call(
        self,
        operation: str,
        headers: dict[str, Any],
        send: Callable[[Any, Any], _T],
        *,
        records_sent: bool = False,
        retried: bool = True,
    ) -> _T:
        def attempt() -> _T:
            method = self._operation(operation)
            soap_headers = self._headers(headers)
            with self._limit:
                return classified(
                    lambda: send(method, soap_headers), classify_fault, records_sent=records_sent
                )

        try:
            return self.retrying(attempt) if retried else attempt()
        except RecordRejected as rejected:
            if operation in ("upsert", "delete"):
                raise
            # Only a write has records to blame; elsewhere the request itself is wrong.
            raise ConfigError(rejected.message, system=SYSTEM) from None

    def _operation(self, operation: str) -> Any:
        name = self.settings.operations[operation]
        try:
            return getattr(self._load(), name)
        except AttributeError:
            raise ConfigError(
                f"the ERP WSDL has no operation {name!r} (erp.operations.{operation})",
                system=SYSTEM,
            ) from None

    def type(self, namespace: str, name: str) -> Any:
        """The zeep type ``{namespace}name``; ``{v}`` in the namespace is the WSDL's version."""
        found = self._types.get((namespace, name))
        if found is not None:
            return found
        self.retrying(self._load)
        qname = f"{{{namespace.format(v=self.version)}}}{name}"
        try:
            found = self._client.get_type(qname)  # type: ignore[union-attr]
        except zeep.exceptions.LookupError:
            raise ConfigError(f"the ERP WSDL has no type {qname}", system=SYSTEM) from None
        self._types[(namespace, name)] = found  # a dict item set is atomic across threads
        return found

    def retrying(self, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt`` under the one retry policy."""
        result: _T = retry_policy(self._retry, sleep=self._sleep)(attempt)
        return result

    def close(self) -> None:
        """Release the HTTP session."""
        self._http.close()

    def _headers(self, extra: dict[str, Any]) -> dict[str, Any] | list[Any]:
        if self.settings.auth == "token":
            return {"tokenPassport": new_token_passport(self.settings).to_header(), **extra}
        # The passport is not in the WSDL's header message, so all headers go as raw XML.
        headers = [user_passport(self.settings, self.version)]
        for name, value in extra.items():
            element = self._client.get_element(  # type: ignore[union-attr]
                f"{{{MESSAGES_NAMESPACE.format(v=self.version)}}}{name}"
            )
            holder = etree.Element("holder")
            element.render(holder, value)
            headers.append(holder[0])
        return headers

    def _load(self) -> Any:
        """Load the WSDL once; later calls (from any thread) reuse the client and service."""
        with self._load_lock:
            if self._service is None:
                client = classified(self._new_client, classify_fault)
                self.version = _suite_version(client)
                binding = _netsuite_binding(client)
                endpoint = self.settings.endpoint_url
                self._client = client
                self._service = (
                    client.create_service(binding, endpoint)  # type: ignore[no-untyped-call]
                    if endpoint
                    else client.service
                )
            return self._service

    def _new_client(self) -> zeep.Client:
        cache = (
            cache_for(self.settings.wsdl_url) if self._wsdl_cache == "user" else self._wsdl_cache
        )
        return new_client(self.settings, self._http, cache)


def _suite_version(client: zeep.Client) -> str:
    for namespace in client.wsdl.types.prefix_map.values():
        match = _CORE_NAMESPACE.match(namespace)
        if match:
            return match.group(1)
    raise ConfigError("the ERP WSDL is not a NetSuite SuiteTalk WSDL", system=SYSTEM)


def _netsuite_binding(client: zeep.Client) -> str:
    for qname in client.wsdl.bindings:
        if str(qname).endswith("}NetSuiteBinding"):
            return str(qname)
    raise ConfigError("the ERP WSDL has no NetSuiteBinding", system=SYSTEM)
