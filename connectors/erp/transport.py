"""The ERP connector's HTTP side: a zeep transport with strict timeouts and a response size cap.

Every response body is streamed and abandoned once it passes ``max_response_bytes`` or the
deadline, and a body that declares a DTD is refused before any XML parser sees it (zeep's
``forbid_dtd``/``forbid_entities``/``forbid_external`` settings stay on as a second guard).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import zeep
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]
from zeep.cache import Base as WsdlCache
from zeep.cache import SqliteCache
from zeep.transports import Transport

from config.settings import ErpSettings
from connectors.erp.records import SYSTEM
from connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    RateLimited,
    RecordRejected,
    TransientError,
)

AUTH_HINT = "check the ERP account and its credentials (token or user passport)"
_CHUNK_BYTES = 64 * 1024
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# A DOCTYPE can only sit in the prolog: after an XML declaration, comments and whitespace.
_DOCTYPE_IN_PROLOG = re.compile(rb"\A(?:\s|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.DOTALL | re.I)
_T = TypeVar("_T")
# Set once a request's envelope was built and goes out: a ValueError before that came from
# rendering the values of the request (a record's data), after it from the answer or the WSDL.
_request_sent: ContextVar[bool] = ContextVar("erp_request_sent", default=False)


class CappedTransport(Transport):
    """zeep transport: streamed bodies capped in size and time, non-SOAP errors classified."""

    def __init__(self, settings: ErpSettings, session: requests.Session, cache: Any) -> None:
        timeouts = (settings.connect_timeout_seconds, settings.timeout_seconds)
        super().__init__(  # type: ignore[no-untyped-call]
            session=session, cache=cache, timeout=timeouts, operation_timeout=timeouts
        )
        self._timeouts = timeouts
        self._max_bytes = settings.max_response_bytes
        self._deadline_seconds = settings.timeout_seconds
        self._posts = 0
        self._posts_lock = threading.Lock()

    @property
    def posts_sent(self) -> int:
        """SOAP calls sent so far (each retry is one), from every writer thread; the WSDL's
        own fetches are not API calls and are not counted."""
        return self._posts

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        """POST one envelope; the response's body is read here, under the cap and deadline."""
        _request_sent.set(True)
        with self._posts_lock:
            self._posts += 1
        response = self.session.post(
            address, data=message, headers=headers, timeout=self._timeouts, stream=True
        )
        media_type = response.headers.get("Content-Type", "")
        if response.status_code != 200 and "xml" not in media_type:
            response.close()
            raise http_error(response.status_code, response.headers.get("Retry-After"))
        # requests serves .content from _content; filling it keeps zeep from reading again.
        response._content = self._read_body(response)
        return response

    def _load_remote_data(self, url: str) -> bytes:
        response = self.session.get(url, timeout=self._timeouts, stream=True)
        if response.status_code != 200:
            response.close()
            raise http_error(response.status_code, response.headers.get("Retry-After"))
        return self._read_body(response)

    def _read_body(self, response: requests.Response) -> bytes:
        deadline = time.monotonic() + self._deadline_seconds
        chunks: list[bytes] = []
        size = 0
        with response:
            for chunk in response.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > self._max_bytes:
                    raise ConfigError(
                        f"NetSuite's response passed erp.max_response_bytes "
                        f"({self._max_bytes} bytes); abandoned it",
                        system=SYSTEM,
                    )
                if time.monotonic() > deadline:
                    raise TransientError(
                        f"NetSuite's response took longer than {self._deadline_seconds}s",
                        system=SYSTEM,
                    )
                chunks.append(chunk)
        body = b"".join(chunks)
        if _DOCTYPE_IN_PROLOG.match(body):
            raise ConfigError(
                "NetSuite's response declares a DTD; refused (DTDs and entities are never "
                "parsed, to rule out XXE and entity-expansion attacks)",
                system=SYSTEM,
            )
        return body


def http_error(status: int, retry_after: str | None) -> ConnectorError:
    """Classify an HTTP status that came without a SOAP envelope."""
    message = f"NetSuite answered HTTP {status}"
    if status == 429:
        hint = float(retry_after) if retry_after and retry_after.isdigit() else None
        return RateLimited(message, system=SYSTEM, retry_after=hint)
    if status >= 500:
        return TransientError(message, system=SYSTEM)
    if status in (401, 403):
        return AuthError(f"{message}; {AUTH_HINT}", system=SYSTEM)
    return ConfigError(
        f"{message} without a SOAP envelope; check erp.wsdl_url and erp.endpoint_url",
        system=SYSTEM,
    )


def new_client(settings: ErpSettings, session: requests.Session, cache: Any) -> zeep.Client:
    """A zeep client for ``settings.wsdl_url`` that never parses DTDs, entities or remote refs."""
    transport = CappedTransport(settings, session, cache)
    zeep_settings = zeep.Settings(
        strict=False,
        xml_huge_tree=False,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    try:
        return zeep.Client(settings.wsdl_url, transport=transport, settings=zeep_settings)  # type: ignore[no-untyped-call]
    except (AttributeError, TypeError, KeyError, IndexError) as error:
        # zeep's lenient parser hands on a document it could not read as None, or half-built.
        raise ConfigError(
            f"the ERP WSDL at {settings.wsdl_url} could not be read ({type(error).__name__}: "
            f"{error}); check erp.wsdl_url",
            system=SYSTEM,
        ) from None


def user_wsdl_cache() -> SqliteCache:
    """A persistent WSDL/XSD cache in the user's cache directory (``$XDG_CACHE_HOME``)."""
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = cache_home / "revbridge" / "zeep-wsdl.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteCache(path=str(path), timeout=24 * 3600)  # type: ignore[no-untyped-call]


def cache_for(wsdl_url: str) -> WsdlCache | None:
    """The persistent cache for remote WSDLs; none for files and loopback sandboxes."""
    # Loopback WSDLs come from sandboxes whose port and address change every run.
    parts = urlsplit(wsdl_url)
    if parts.scheme not in {"http", "https"} or parts.hostname in _LOOPBACK_HOSTS:
        return None
    return user_wsdl_cache()


def classified(
    call: Callable[[], _T],
    classify_fault: Callable[[Any], ConnectorError],
    *,
    records_sent: bool = False,
) -> _T:
    """Run ``call``, re-raising anything it throws as one of the connector error classes.

    With ``records_sent`` (a list write), a value zeep or lxml can't render before the request
    goes out is the records' fault: RecordRejected, so the writer isolates the record. Any
    other unusable WSDL or answer is a ConfigError.
    """
    started = _request_sent.set(False)
    try:
        return call()
    except ConnectorError:
        raise
    except zeep.exceptions.Fault as fault:
        raise classify_fault(fault) from None
    except zeep.exceptions.TransportError as error:
        raise http_error(error.status_code, None) from None
    except (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
    ) as error:
        raise TransientError(
            f"NetSuite unreachable or too slow: {type(error).__name__}", system=SYSTEM
        ) from None
    except (zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden) as error:
        raise ConfigError(
            f"NetSuite's XML declares a DTD or entities ({type(error).__name__}); refused",
            system=SYSTEM,
        ) from None
    except (zeep.exceptions.Error, etree.XMLSyntaxError, OSError, ValueError) as error:
        if records_sent and _unrenderable(error):
            raise RecordRejected(
                f"a record can't be written as SuiteTalk XML: {type(error).__name__}: {error}",
                system=SYSTEM,
                code="INVALID_XML",
            ) from None
        raise ConfigError(
            f"NetSuite WSDL or response unusable ({type(error).__name__}: {error}); "
            "check erp.wsdl_url and erp.endpoint_url",
            system=SYSTEM,
        ) from None
    finally:
        _request_sent.reset(started)


def _unrenderable(error: Exception) -> bool:
    """True for a failure to render the request's values, before anything was sent."""
    if _request_sent.get():
        return False
    return isinstance(error, zeep.exceptions.ValidationError) or (
        isinstance(error, ValueError) and not isinstance(error, etree.XMLSyntaxError)
    )
