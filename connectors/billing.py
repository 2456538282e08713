"""Billing REST connector: upsert by external id, incremental reads, classified errors.

Three seams, so a Stripe-compatible form-encoded profile can be added without touching the rest:

- :class:`BillingHttpClient` owns the ``requests.Session``: bearer auth, CA bundle, timeouts,
  the shared tenacity retry policy and the classification of HTTP failures.
- a :class:`BillingProfile` owns the endpoint and body shape (:class:`JsonProfile` here).
- :class:`BillingConnector` implements the connector protocol on top of the two.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any, Protocol
from urllib.parse import quote

import requests

from config.settings import BillingSettings, RetrySettings
from connectors.base import Cursor, Page, RawRecord, ReadSpec, WriteOutcome, WriteResult, WriteSpec
from connectors.errors import AuthError, ConfigError, RateLimited, TransientError
from connectors.retry import Sleep, retry_after_seconds, retry_policy

SYSTEM = "billing"
_TRANSIENT_STATUSES = frozenset({408, 409, 425})


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP call to the billing API, described as data (path is below ``base_url``)."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"
    idempotency_key: str | None = None


def api_error(response: requests.Response) -> dict[str, Any]:
    """The ``error`` object of a Stripe-shaped error body, or ``{}`` when there is none."""
    try:
        detail = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return detail if isinstance(detail, dict) else {}


class BillingHttpClient:
    """HTTP to the billing API: one session, bearer auth, timeouts, retries, error classes."""

    def __init__(
        self, settings: BillingSettings, retry: RetrySettings, *, sleep: Sleep | None = None
    ) -> None:
        self._base_url = settings.base_url.rstrip("/")
        self._timeout = settings.timeout_seconds
        self._secret = settings.api_key.get_secret_value()
        self._session = requests.Session()
        self._session.headers.update(
            {"Authorization": f"Bearer {self._secret}", "Accept": "application/json"}
        )
        # Passed on every call: a session-level verify loses to REQUESTS_CA_BUNDLE in requests.
        self._verify: str | bool = str(settings.ca_bundle) if settings.ca_bundle else True
        self._sleep = sleep or time.sleep
        self._retrying = retry_policy(retry, sleep=self._record_and_sleep)
        self.last_wait_seconds: float | None = None

    def send(self, request: ApiRequest) -> requests.Response:
        """Send with retries; return 2xx and record-level 4xx answers, raise everything else."""
        return self._retrying(self._send_once, request)

    def close(self) -> None:
        """Close the session's pooled connections."""
        self._session.close()

    def _record_and_sleep(self, seconds: float) -> None:
        self.last_wait_seconds = seconds
        self._sleep(seconds)

    def _send_once(self, request: ApiRequest) -> requests.Response:
        headers = {"Content-Type": request.content_type} if request.body is not None else {}
        if request.idempotency_key is not None:
            headers["Idempotency-Key"] = request.idempotency_key
        where = f"{request.method} {self._base_url}{request.path}"
        try:
            response = self._session.request(
                request.method,
                self._base_url + request.path,
                params=dict(request.params),
                data=request.body,
                headers=headers,
                timeout=self._timeout,
                verify=self._verify,
            )
        except requests.exceptions.SSLError as error:
            message = f"TLS verification failed for {where}; set billing.ca_bundle? ({error})"
            raise ConfigError(self._redact(message), system=SYSTEM) from error
        except (requests.Timeout, requests.ConnectionError) as error:
            message = f"{where} failed: {type(error).__name__}: {error}"
            raise TransientError(self._redact(message), system=SYSTEM) from error
        except requests.RequestException as error:
            message = f"{where} is not a usable request: {error}; check billing.base_url"
            raise ConfigError(self._redact(message), system=SYSTEM) from error
        self._classify(response, where)
        return response

    def _classify(self, response: requests.Response, where: str) -> None:
        status = response.status_code
        if status < 400:
            return
        said = self._redact(str(api_error(response).get("message", "")))
        message = f"{where} answered HTTP {status}: {said}"
        if status in (401, 403):
            hint = "the API key was refused; check billing.api_key"
            raise AuthError(f"{message} ({hint})", system=SYSTEM)
        if status == 404:
            hint = "no such collection; check the mapping's target object and billing.base_url"
            raise ConfigError(f"{message} ({hint})", system=SYSTEM)
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise RateLimited(message, system=SYSTEM, retry_after=retry_after)
        if status >= 500 or status in _TRANSIENT_STATUSES:
            raise TransientError(message, system=SYSTEM)

    def _redact(self, text: str) -> str:
        # Some APIs echo the key they refused; never let it reach a message or a log.
        return text.replace(self._secret, "***") if self._secret else text


def idempotency_key(collection: str, external_id: str, body: bytes, write_token: str) -> str:
    """Stable across retries of one write, distinct for a later write of the same content."""
    digest = hashlib.sha256(body).hexdigest()
    material = "\0".join((collection, external_id, digest, write_token))
    return "revbridge-" + hashlib.sha256(material.encode()).hexdigest()[:48]


def _json_default(value: Any) -> str:
    # Money goes out as a decimal string, never a float; dates as ISO 8601.
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class BillingProfile(Protocol):
    """The endpoint and body shape of one flavour of billing API."""

    def upsert_request(
        self, collection: str, external_id: str, payload: Mapping[str, Any]
    ) -> ApiRequest:
        """The request that upserts ``payload`` by external id."""
        ...

    def write_result(self, external_id: str, response: requests.Response) -> WriteResult:
        """Turn an upsert answer (2xx or a record-level 4xx) into a WriteResult."""
        ...

    def list_request(
        self, collection: str, limit: int, since: Cursor | None, after: Cursor | None
    ) -> ApiRequest:
        """The list call for the first page (``after`` None) or the page after ``after``."""
        ...

    def list_page(self, response: requests.Response) -> tuple[list[RawRecord], bool]:
        """The records of a list answer and whether more pages follow."""
        ...

    def position(self, record: RawRecord) -> Cursor:
        """Where ``record`` sits in the list order."""
        ...


class JsonProfile:
    """The generic JSON profile: ``PUT /v1/{collection}/{external_id}``, keyset-paged lists."""

    def upsert_request(
        self, collection: str, external_id: str, payload: Mapping[str, Any]
    ) -> ApiRequest:
        """A JSON ``PUT`` of the payload, keys sorted so equal content hashes equal."""
        body = json.dumps(payload, default=_json_default, sort_keys=True, separators=(",", ":"))
        path = f"/v1/{quote(collection, safe='')}/{quote(external_id, safe='')}"
        return ApiRequest("PUT", path, body=body.encode())

    def write_result(self, external_id: str, response: requests.Response) -> WriteResult:
        """201 -> created, 200 -> updated, 4xx -> rejected with the API's code and param."""
        if response.status_code in (200, 201):
            outcome = WriteOutcome.CREATED if response.status_code == 201 else WriteOutcome.UPDATED
            return WriteResult(external_id, outcome, target_id=str(_json(response)["id"]))
        error = api_error(response)
        param = str(error.get("param") or "")
        return WriteResult(
            external_id,
            WriteOutcome.REJECTED,
            error_code=str(error.get("code") or f"http_{response.status_code}"),
            error_message=str(error.get("message") or response.reason),
            error_fields=(param,) if param else (),
        )

    def list_request(
        self, collection: str, limit: int, since: Cursor | None, after: Cursor | None
    ) -> ApiRequest:
        """``updated_after`` (inclusive) from the cursor; later pages add ``starting_after``."""
        params = {"limit": str(limit)}
        if after is not None:
            params.update(updated_after=after.modified, starting_after=after.record_id)
        elif since is not None:
            params["updated_after"] = since.modified
        return ApiRequest("GET", f"/v1/{quote(collection, safe='')}", params=params)

    def list_page(self, response: requests.Response) -> tuple[list[RawRecord], bool]:
        """``data`` and ``has_more`` of a list object."""
        body = _json(response)
        return list(body.get("data") or []), bool(body.get("has_more"))

    def position(self, record: RawRecord) -> Cursor:
        """``(updated, id)``: the order the list endpoint returns."""
        return Cursor(modified=str(record["updated"]), record_id=str(record["id"]))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        where = f"{response.request.method} {response.url}"
        message = f"{where} did not answer a JSON object; check billing.base_url"
        raise ConfigError(message, system=SYSTEM)
    return body


def _order_key(cursor: Cursor) -> tuple[datetime, str]:
    try:
        stamp = datetime.fromisoformat(cursor.modified)
    except ValueError:
        raise ConfigError(f"unreadable timestamp {cursor.modified!r}", system=SYSTEM) from None
    # Compare aware datetimes only; a stamp without an offset is taken as UTC.
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC), cursor.record_id)


class BillingConnector:
    """Connector for a billing REST API (generic JSON profile unless another is given).

    ``wait`` replaces ``time.sleep`` between retries; tests pass a recorder and never sleep.
    """

    system = SYSTEM

    def __init__(
        self,
        settings: BillingSettings,
        retry: RetrySettings,
        *,
        wait: Sleep | None = None,
        profile: BillingProfile | None = None,
    ) -> None:
        self._client = BillingHttpClient(settings, retry, sleep=wait)
        self._profile: BillingProfile = profile or JsonProfile()
        self._page_size = settings.page_size

    @property
    def last_wait_seconds(self) -> float | None:
        """The last backoff the retry policy asked for (a honoured Retry-After shows here)."""
        return self._client.last_wait_seconds

    def check(self) -> None:
        """One authenticated, cheap call: the first customer."""
        request = self._profile.list_request("customers", 1, None, None)
        self._ok(self._client.send(request))

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Upsert each payload by external id; one bad record never stops the batch."""
        # One token per call: retries inside this call replay, a later call with the same
        # content (A -> B -> A) is a new request rather than a replay of the first A.
        write_token = uuid.uuid4().hex
        return [self._write_one(spec, payload, write_token) for payload in payloads]

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """Not supported yet: billing is a write target in this release's flows."""
        raise ConfigError(
            f"fetching {spec.object_name} records by id from billing is not supported yet",
            system=SYSTEM,
        )

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """Yield pages of records changed strictly after ``since``, in ``(updated, id)`` order."""
        position, after, calls = since, None, 0
        while True:
            request = self._profile.list_request(spec.object_name, self._page_size, since, after)
            records, has_more = self._profile.list_page(self._ok(self._client.send(request)))
            calls += 1
            fresh = self._after(records, position)
            if fresh:
                position = self._profile.position(fresh[-1])
                yield Page(records=fresh, cursor=position, api_calls=calls)
                calls = 0
            if not has_more or not records:
                return
            after = self._profile.position(records[-1])

    def close(self) -> None:
        """Release the HTTP session."""
        self._client.close()

    def _write_one(
        self, spec: WriteSpec, payload: Mapping[str, Any], write_token: str
    ) -> WriteResult:
        external_id = payload.get(spec.external_id_field)
        if not isinstance(external_id, str) or not external_id:
            return WriteResult(
                str(external_id or ""),
                WriteOutcome.REJECTED,
                error_code="parameter_missing",
                error_message=f"the payload has no {spec.external_id_field}",
                error_fields=(spec.external_id_field,),
            )
        try:
            request = self._profile.upsert_request(spec.object_name, external_id, payload)
        except (TypeError, ValueError) as error:
            return WriteResult(
                external_id,
                WriteOutcome.REJECTED,
                error_code="parameter_invalid",
                error_message=f"the payload cannot be encoded as JSON: {error}",
            )
        key = idempotency_key(spec.object_name, external_id, request.body or b"", write_token)
        response = self._client.send(replace(request, idempotency_key=key))
        return self._profile.write_result(external_id, response)

    def _after(self, records: list[RawRecord], since: Cursor | None) -> list[RawRecord]:
        keys = [_order_key(self._profile.position(record)) for record in records]
        # Out-of-order data would let the cursor jump past records: fail loudly instead.
        if any(later <= earlier for earlier, later in pairwise(keys)):
            raise ConfigError("the list answer is not in (updated, id) order", system=SYSTEM)
        # The list filter is inclusive, so the record at the cursor and its ties come back.
        floor = _order_key(since) if since is not None else None
        return [
            record
            for record, key in zip(records, keys, strict=True)
            if floor is None or key > floor
        ]

    def _ok(self, response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            error = api_error(response)
            said = f"{error.get('code', '')}: {error.get('message', response.reason)}"
            where = f"{response.request.method} {response.url}"
            raise ConfigError(f"{where} answered HTTP {response.status_code} {said}", system=SYSTEM)
        return response
