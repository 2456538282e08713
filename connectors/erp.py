"""ERP connector: NetSuite SuiteTalk SOAP over zeep, writing records with ``upsertList``.

The ERP is a write target in this release. Payloads are nested dicts in SuiteTalk field names
(``companyName``, ``entity: {externalId}``, ``itemList: {item: [...]}``); the record's XSD type
drives their conversion (decimal strings for ``xsd:double``, dates for ``xsd:dateTime``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import requests
import zeep
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]
from zeep.cache import Base as WsdlCache
from zeep.cache import SqliteCache
from zeep.transports import Transport

from config.settings import ErpSettings, RetrySettings
from connectors.base import Cursor, Page, RawRecord, ReadSpec, WriteOutcome, WriteResult, WriteSpec
from connectors.erp_auth import new_token_passport
from connectors.erp_records import SYSTEM, PayloadError, RecordBuilder
from connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    RateLimited,
    TransientError,
)
from connectors.retry import retry_policy

# Record type -> its SuiteTalk namespace; ``{v}`` is the WSDL's version (e.g. ``2023_2``).
RECORD_NAMESPACES = {
    "Customer": "urn:relationships_{v}.lists.webservices.netsuite.com",
    "ServiceSaleItem": "urn:accounting_{v}.lists.webservices.netsuite.com",
    "SalesOrder": "urn:sales_{v}.transactions.webservices.netsuite.com",
}
_CORE_NAMESPACE = re.compile(r"^urn:core_(\d{4}_\d)\.platform\.webservices\.netsuite\.com$")
FAULT_ERRORS: dict[str, type[ConnectorError]] = {
    "invalidCredentialsFault": AuthError,
    "invalidSessionFault": AuthError,
    "exceededConcurrentRequestLimitFault": RateLimited,
    "exceededRequestLimitFault": RateLimited,
}
_AUTH_HINT = "check the ERP account, consumer key/secret and token id/secret"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_T = TypeVar("_T")


def user_wsdl_cache() -> SqliteCache:
    """A persistent WSDL/XSD cache in the user's cache directory (``$XDG_CACHE_HOME``)."""
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = cache_home / "revbridge" / "zeep-wsdl.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteCache(path=str(path), timeout=24 * 3600)  # type: ignore[no-untyped-call]


class _CheckedTransport(Transport):
    """Classify HTTP errors whose body is not SOAP before zeep tries to parse it."""

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        response: requests.Response = super().post(address, message, headers)  # type: ignore[no-untyped-call]
        media_type = response.headers.get("Content-Type", "")
        if response.status_code != 200 and "xml" not in media_type:
            raise _http_error(response.status_code, response.headers.get("Retry-After"))
        return response


def _http_error(status: int, retry_after: str | None) -> ConnectorError:
    message = f"NetSuite answered HTTP {status}"
    if status == 429:
        hint = float(retry_after) if retry_after and retry_after.isdigit() else None
        return RateLimited(message, system=SYSTEM, retry_after=hint)
    if status >= 500:
        return TransientError(message, system=SYSTEM)
    if status in (401, 403):
        return AuthError(f"{message}; {_AUTH_HINT}", system=SYSTEM)
    return ConfigError(f"{message} without a SOAP envelope; check erp.endpoint_url", system=SYSTEM)


def classify_fault(fault: zeep.exceptions.Fault) -> ConnectorError:
    """Map a SuiteTalk SOAP fault to the error class the engine acts on."""
    detail = fault.detail
    suite_fault = None if detail is None else next(iter(detail.iterchildren("{*}*")), None)
    name = "" if suite_fault is None else etree.QName(suite_fault).localname
    code = "" if suite_fault is None else suite_fault.findtext("{*}code", "")
    error_class = FAULT_ERRORS.get(name, ConfigError)
    message = f"NetSuite fault {name or fault.code} ({code or 'no code'}): {fault.message}"
    if error_class is AuthError:
        message = f"{message}; {_AUTH_HINT}"
    return error_class(message, system=SYSTEM)


def write_results(external_ids: Sequence[str], response: Any) -> list[WriteResult]:
    """Map an ``upsertList`` response's writeResponses, in order, to per-record results."""
    write_responses = _body(response)["writeResponseList"]["writeResponse"] or []
    if len(write_responses) != len(external_ids):
        raise TransientError(
            f"NetSuite answered {len(write_responses)} results for {len(external_ids)} records",
            system=SYSTEM,
        )
    return [
        _write_result(ext, answer)
        for ext, answer in zip(external_ids, write_responses, strict=True)
    ]


def _body(response: Any) -> Any:
    # zeep wraps the body as {header, body} when the operation's output declares headers.
    return response["body"] if "body" in response else response  # noqa: SIM401 - not a dict


def _write_result(external_id: str, answer: Any) -> WriteResult:
    status = answer["status"]
    if status["isSuccess"]:
        ref = answer["baseRef"]
        return WriteResult(external_id, WriteOutcome.UPSERTED, target_id=ref["internalId"])
    details = status["statusDetail"] or []
    first = details[0] if details else None
    return WriteResult(
        external_id,
        WriteOutcome.REJECTED,
        error_code=(first["code"] if first else None) or "UNKNOWN",
        error_message="; ".join(str(detail["message"]) for detail in details),
    )


class ErpConnector:
    """Writes Customer, ServiceSaleItem and SalesOrder records to NetSuite with upsertList."""

    system = SYSTEM

    def __init__(
        self,
        settings: ErpSettings,
        retry: RetrySettings,
        *,
        wsdl_cache: WsdlCache | Literal["user"] | None = "user",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``wsdl_cache="user"`` caches remote WSDLs under the user's cache dir (not loopback)."""
        self._settings = settings
        self._retry = retry
        self._sleep = sleep
        self._session = requests.Session()
        self._wsdl_cache = wsdl_cache
        self._client: zeep.Client | None = None
        self._service: Any = None
        self._version = ""
        self._builder = RecordBuilder()

    def check(self) -> None:
        """Load the WSDL and make one authenticated ``getServerTime`` call."""
        response = self._call("getServerTime")
        result = _body(response)["getServerTimeResult"]
        if not result["status"]["isSuccess"]:
            raise AuthError(f"NetSuite refused getServerTime; {_AUTH_HINT}", system=SYSTEM)

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """Not supported: the ERP is a write target only in this release."""
        raise ConfigError(
            f"reading {spec.object_name} from the ERP is not supported yet; the ERP is a write "
            "target only in this release (remove it as a source in the flow config)",
            system=SYSTEM,
        )

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """Not supported: the ERP is a write target only in this release."""
        raise ConfigError(
            f"fetching {spec.object_name} from the ERP is not supported yet; the ERP is a write "
            "target only in this release",
            system=SYSTEM,
        )

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Upsert payloads in batches of ``batch_size``; one result per payload, same order."""
        if spec.external_id_field != "externalId":
            raise ConfigError(
                f"NetSuite upserts by externalId, not {spec.external_id_field!r}", system=SYSTEM
            )
        record_type = self._record_type(spec.object_name)
        size = self._settings.batch_size
        results: list[WriteResult] = []
        for start in range(0, len(payloads), size):
            results.extend(self._write_batch(record_type, payloads[start : start + size]))
        return results

    def close(self) -> None:
        """Release the HTTP session."""
        self._session.close()

    def _write_batch(
        self, record_type: Any, batch: Sequence[Mapping[str, Any]]
    ) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(batch)
        positions: list[int] = []
        records: list[Any] = []
        for position, payload in enumerate(batch):
            try:
                if not payload.get("externalId"):
                    raise PayloadError(("externalId",), "required to upsert")
                records.append(self._builder.build(record_type, payload))
            except PayloadError as error:
                results[position] = _rejected_locally(payload, error)
                continue
            positions.append(position)
        if records:
            external_ids = [str(batch[position]["externalId"]) for position in positions]
            response = self._call("upsertList", record=records)
            for position, result in zip(
                positions, write_results(external_ids, response), strict=True
            ):
                results[position] = result
        return [result for result in results if result is not None]

    def _record_type(self, object_name: str) -> Any:
        template = RECORD_NAMESPACES.get(object_name)
        if template is None:
            raise ConfigError(
                f"unsupported ERP record type {object_name!r}; expected one of "
                f"{sorted(RECORD_NAMESPACES)}",
                system=SYSTEM,
            )
        self._retrying(self._load)
        qname = f"{{{template.format(v=self._version)}}}{object_name}"
        try:
            return self._client.get_type(qname)  # type: ignore[union-attr]
        except zeep.exceptions.LookupError:
            raise ConfigError(f"the ERP WSDL has no type {qname}", system=SYSTEM) from None

    def _call(self, operation: str, **body: Any) -> Any:
        def attempt() -> Any:
            service = self._load()
            headers = {"tokenPassport": new_token_passport(self._settings).to_header()}
            return _classified(lambda: getattr(service, operation)(**body, _soapheaders=headers))

        return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], _T]) -> _T:
        result: _T = retry_policy(self._retry, sleep=self._sleep)(attempt)
        return result

    def _load(self) -> Any:
        """Load the WSDL once; later calls reuse the client and service."""
        if self._service is None:
            self._client = _classified(self._new_client)
            self._version = _suite_version(self._client)
            binding = _netsuite_binding(self._client)
            endpoint = self._settings.endpoint_url
            self._service = (
                self._client.create_service(binding, endpoint)  # type: ignore[no-untyped-call]
                if endpoint
                else self._client.service
            )
        return self._service

    def _new_client(self) -> zeep.Client:
        wsdl_url, timeout = self._settings.wsdl_url, self._settings.timeout_seconds
        cache = _cache_for(wsdl_url) if self._wsdl_cache == "user" else self._wsdl_cache
        transport = _CheckedTransport(  # type: ignore[no-untyped-call]
            session=self._session, cache=cache, timeout=timeout, operation_timeout=timeout
        )
        settings = zeep.Settings(
            strict=False,
            xml_huge_tree=False,
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        return zeep.Client(wsdl_url, transport=transport, settings=settings)  # type: ignore[no-untyped-call]


def _cache_for(wsdl_url: str) -> WsdlCache | None:
    # Loopback WSDLs come from sandboxes whose port and address change every run.
    parts = urlsplit(wsdl_url)
    if parts.scheme not in {"http", "https"} or parts.hostname in _LOOPBACK_HOSTS:
        return None
    return user_wsdl_cache()


def _classified(call: Callable[[], _T]) -> _T:
    """Run ``call``, re-raising anything it throws as one of the connector error classes."""
    try:
        return call()
    except ConnectorError:
        raise
    except zeep.exceptions.Fault as fault:
        raise classify_fault(fault) from None
    except zeep.exceptions.TransportError as error:
        raise _http_error(error.status_code, None) from None
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else 0
        raise _http_error(status, None) from None
    except (requests.ConnectionError, requests.Timeout) as error:
        raise TransientError(
            f"NetSuite unreachable: {type(error).__name__}", system=SYSTEM
        ) from None
    except (zeep.exceptions.Error, etree.XMLSyntaxError, OSError, ValueError) as error:
        raise ConfigError(
            f"NetSuite WSDL or response unusable ({type(error).__name__}: {error}); "
            "check erp.wsdl_url and erp.endpoint_url",
            system=SYSTEM,
        ) from None


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


def _rejected_locally(payload: Mapping[str, Any], error: PayloadError) -> WriteResult:
    return WriteResult(
        str(payload.get("externalId", "")),
        WriteOutcome.REJECTED,
        error_code="INVALID_PAYLOAD",
        error_message=str(error),
        error_fields=(error.field,),
    )
