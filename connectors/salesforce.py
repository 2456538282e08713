"""The Salesforce connector: incremental SOQL reads and sObject Collections upserts.

simple-salesforce does the HTTP; this class wraps it behind a small typed surface, logs in
itself (:mod:`connectors.salesforce_auth`), classifies every failure into
:mod:`connectors.errors`, retries transient ones with tenacity, and tracks API usage from the
``Sforce-Limit-Info`` header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from simple_salesforce.format import format_soql

from config.settings import RetrySettings, SalesforceSettings
from connectors.base import (
    Cursor,
    Page,
    RawRecord,
    ReadSpec,
    WriteOutcome,
    WriteResult,
    WriteSpec,
)
from connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    RateLimited,
    TransientError,
)
from connectors.retry import Sleep, retry_policy
from connectors.salesforce_auth import (
    SYSTEM,
    build_http_session,
    can_log_in,
    open_session,
)

T = TypeVar("T")
COLLECTION_LIMIT = 200
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
_TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})
_STAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")


def _checked_name(name: str) -> str:
    """An API name safe to place in SOQL; config typos fail here, not as injected SOQL."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{name!r} is not a valid Salesforce API name", system=SYSTEM)
    return name


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(_checked_name(name).lower(), name)
    return list(seen.values())


def soql_datetime(stamp: str) -> str:
    """A SystemModstamp string as a SOQL datetime literal, keeping its milliseconds.

    ``format_soql`` drops fractional seconds from datetimes; a cursor that lost them would
    re-read the same records forever, so the literal is rendered here from a parsed datetime.
    """
    for layout in _STAMP_FORMATS:
        try:
            parsed = datetime.strptime(stamp, layout).astimezone(UTC)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"
    raise ConfigError(f"cursor stamp {stamp!r} is not a Salesforce datetime", system=SYSTEM)


def _select(spec: ReadSpec) -> str:
    """``SELECT <fields and child subqueries> FROM <object>``, names checked."""
    fields = _unique([spec.key_field, spec.cursor_field, "IsDeleted", *spec.fields])
    for child in spec.children:
        child_fields = ", ".join(_unique(["Id", *child.fields]))
        relationship = _checked_name(child.relationship)
        fields.append(
            format_soql("(SELECT {:literal} FROM {:literal})", child_fields, relationship)
        )
    # Names are checked API names, placed as literals; values are quoted by format_soql.
    return format_soql(
        "SELECT {:literal} FROM {:literal}", ", ".join(fields), _checked_name(spec.object_name)
    )


def _where(conditions: Sequence[str]) -> str:
    return (
        " WHERE " + " AND ".join(f"({condition})" for condition in conditions) if conditions else ""
    )


def build_read_soql(spec: ReadSpec, since: Cursor | None) -> str:
    """SOQL for one incremental read: named fields, child subqueries, (stamp, id) order."""
    conditions = [spec.filter] if spec.filter else []
    if since is not None:
        conditions.append(
            format_soql(
                "{stamp_field:literal} > {stamp:literal} OR "
                "({stamp_field:literal} = {stamp:literal} AND {key_field:literal} > {record_id})",
                stamp_field=spec.cursor_field,
                stamp=soql_datetime(since.modified),
                key_field=spec.key_field,
                record_id=since.record_id,
            )
        )
    return f"{_select(spec)}{_where(conditions)} ORDER BY {spec.cursor_field}, {spec.key_field}"


def build_fetch_soql(spec: ReadSpec, record_ids: Sequence[str]) -> str:
    """SOQL reading the given records by id (the mapping's filter does not apply)."""
    condition = format_soql("{:literal} IN {}", spec.key_field, list(record_ids))
    return f"{_select(spec)}{_where([condition])}"


def _first_error(content: Any) -> tuple[str, str]:
    """Salesforce's first ``(errorCode, message)`` from an error body."""
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    return "", str(content)[:300]


def classify(error: SalesforceError) -> ConnectorError:
    """Map a simple-salesforce error onto revbridge's hierarchy, by status and errorCode."""
    code, message = _first_error(error.content)
    where = f"{urlsplit(error.url).path} answered HTTP {error.status}"
    text = f"{where} {code}: {message}".strip()
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RateLimited(f"{text}; wait for the org's API allowance", system=SYSTEM)
    if error.status >= 500 or code in _TRANSIENT_CODES:
        return TransientError(text, system=SYSTEM)
    if error.status in (401, 403):
        return AuthError(f"{text}; check the integration user's session and permissions",
                         system=SYSTEM)  # fmt: skip
    return ConfigError(f"{text}; check the object and field names in the mapping",
                       system=SYSTEM)  # fmt: skip


def to_write_result(payload: Mapping[str, Any], answer: Mapping[str, Any], key: str) -> WriteResult:
    """One sObject Collections result as a :class:`WriteResult`."""
    external_id = str(payload.get(key, ""))
    if answer.get("success"):
        outcome = WriteOutcome.CREATED if answer.get("created") else WriteOutcome.UPDATED
        return WriteResult(external_id, outcome, target_id=answer.get("id"))
    errors = answer.get("errors") or [{}]
    fields = tuple(dict.fromkeys(f for e in errors for f in e.get("fields") or ()))
    return WriteResult(
        external_id,
        WriteOutcome.REJECTED,
        error_code=str(errors[0].get("statusCode", "")),
        error_message="; ".join(str(e.get("message", "")) for e in errors),
        error_fields=fields,
    )


class SalesforceConnector:
    """Reads and upserts Salesforce records; raises only :mod:`connectors.errors` classes."""

    system = SYSTEM

    def __init__(
        self,
        settings: SalesforceSettings,
        retry: RetrySettings,
        *,
        sleep: Sleep | None = None,
        http: requests.Session | None = None,
    ) -> None:
        """``sleep`` replaces ``time.sleep`` in retries; ``http`` replaces the session."""
        self._settings = settings
        self._http = http or build_http_session(settings)
        self._http.hooks["response"].append(self._observe)
        # Salesforce's REQUEST_LIMIT_EXCEEDED means the daily allowance is spent: retrying in
        # seconds only burns calls, so RateLimited goes straight to the engine.
        self._retrying = retry_policy(retry, sleep=sleep, retry_rate_limited=False)
        self._client: Salesforce | None = None
        self.api_calls = 0
        self.api_usage: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"SalesforceConnector(login_url={self._settings.login_url!r})"

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Count data API calls and record ``Sforce-Limit-Info`` from every response."""
        if "/services/data/" in urlsplit(response.url).path:
            self.api_calls += 1
        limit_info = response.headers.get("Sforce-Limit-Info")
        usage = Salesforce.parse_api_usage(limit_info).get("api-usage") if limit_info else None
        if usage is not None:
            self.api_usage = (int(usage[0]), int(usage[1]))

    def _session_client(self) -> Salesforce:
        if self._client is None:
            session = open_session(self._http, self._settings)
            self._client = Salesforce(
                instance_url=session.instance_url,
                session_id=session.access_token.get_secret_value(),
                version=self._settings.api_version,
                session=self._http,
            )
        return self._client

    def _renewing(self, operation: Callable[[Salesforce], T]) -> T:
        try:
            return operation(self._session_client())
        except SalesforceExpiredSession:
            if not can_log_in(self._settings):
                raise
            # Sessions time out: log in again once and repeat the same call.
            self._client = None
            return operation(self._session_client())

    def _classified(self, operation: Callable[[Salesforce], T]) -> T:
        try:
            return self._renewing(operation)
        except SalesforceError as error:
            raise classify(error) from error
        except (requests.Timeout, requests.ConnectionError) as error:
            raise TransientError(
                f"Salesforce call failed: {type(error).__name__}", system=SYSTEM
            ) from error

    def _call(self, operation: Callable[[Salesforce], T]) -> T:
        """Run one API call with re-login, classification and transient retries."""
        result: T = self._retrying(self._classified, operation)
        return result

    def check(self) -> None:
        """Authenticate and read the org's limits."""
        self._call(partial(_limits, timeout=self._settings.timeout_seconds))

    def describe(self, object_name: str) -> dict[str, Any]:
        """The object's describe metadata (fields, types, relationships)."""
        path = f"sobjects/{_checked_name(object_name)}/describe"
        described = self._call(partial(_rest, path, "GET", None, self._settings.timeout_seconds))
        return dict(described or {})

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """Yield pages of records changed strictly after ``since``, in (stamp, id) order."""
        soql = build_read_soql(spec, since)
        batch = min(max(spec.page_size, 200), 2000)
        options = {"headers": {"Sforce-Query-Options": f"batchSize={batch}"},
                   "timeout": self._settings.timeout_seconds}  # fmt: skip
        children = {child.relationship.lower() for child in spec.children}
        result = self._call(partial(_query, soql, options))
        while True:
            records = [self._clean(record, children, options) for record in result["records"]]
            if records:
                last = records[-1]
                cursor = Cursor(str(last[spec.cursor_field]), str(last[spec.key_field]))
                yield Page(records=records, cursor=cursor)
            if result["done"]:
                return
            result = self._call(partial(_query_more, result["nextRecordsUrl"], options))

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """The records with these ids as they are now, deleted ones included (queryAll)."""
        options = {"timeout": self._settings.timeout_seconds}
        children = {child.relationship.lower() for child in spec.children}
        records: list[RawRecord] = []
        # Salesforce caps a SOQL statement's length; 200 ids stay far below it.
        for start in range(0, len(record_ids), 200):
            soql = build_fetch_soql(spec, record_ids[start : start + 200])
            result = self._call(partial(_query, soql, options))
            while True:
                records += [self._clean(r, children, options) for r in result["records"]]
                if result["done"]:
                    break
                result = self._call(partial(_query_more, result["nextRecordsUrl"], options))
        return records

    def _clean(self, raw: Mapping[str, Any], children: set[str], options: Any) -> RawRecord:
        """Drop ``attributes``; child subquery results become plain lists (empty for null)."""
        record: RawRecord = {}
        for name, value in raw.items():
            if name == "attributes":
                continue
            if name.lower() in children:
                record[name] = [self._clean(c, set(), options)
                                for c in self._child_records(value, options)]  # fmt: skip
            elif isinstance(value, Mapping):
                record[name] = self._clean(value, set(), options)
            else:
                record[name] = value
        return record

    def _child_records(self, result: Any, options: Any) -> Iterator[Mapping[str, Any]]:
        while result:
            yield from result["records"]
            if result.get("done", True):
                return
            result = self._call(partial(_query_more, result["nextRecordsUrl"], options))

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Upsert on ``spec.external_id_field``, 200 records a call, ``allOrNone=false``."""
        path = (
            f"composite/sobjects/{_checked_name(spec.object_name)}/"
            f"{_checked_name(spec.external_id_field)}"
        )
        results: list[WriteResult] = []
        for start in range(0, len(payloads), COLLECTION_LIMIT):
            chunk = payloads[start : start + COLLECTION_LIMIT]
            body = {
                "allOrNone": False,
                "records": [{"attributes": {"type": spec.object_name}, **p} for p in chunk],
            }
            upsert = partial(_upsert, path, body, self._settings.timeout_seconds)
            answers = self._call(upsert)
            results.extend(
                to_write_result(payload, answer, spec.external_id_field)
                for payload, answer in zip(chunk, answers, strict=True)
            )
        return results

    def close(self) -> None:
        """Close the HTTP session."""
        self._client = None
        self._http.close()


def _limits(client: Salesforce, *, timeout: float) -> Any:
    return client.limits(timeout=timeout)


def _rest(path: str, method: str, body: Any, timeout: float, client: Salesforce) -> Any:
    return client.restful(path, method=method, json=body, timeout=timeout)


def _query(soql: str, options: dict[str, Any], client: Salesforce) -> Any:
    return client.query(soql, include_deleted=True, **options)


def _query_more(next_url: str, options: dict[str, Any], client: Salesforce) -> Any:
    return client.query_more(next_url, identifier_is_url=True, **options)


def _upsert(path: str, body: Any, timeout: float, client: Salesforce) -> list[Any]:
    answers = client.restful(path, method="PATCH", json=body, timeout=timeout)
    if not isinstance(answers, list) or len(answers) != len(body["records"]):
        raise TransientError(f"{path} answered {answers!r:.200} for a batch", system=SYSTEM)
    locked = [a for a in answers if any(
        e.get("statusCode") in _TRANSIENT_CODES for e in a.get("errors") or ())]  # fmt: skip
    if locked:
        # Upserts by external id are idempotent, so the whole batch can safely go again.
        raise TransientError(f"{path}: {len(locked)} records hit UNABLE_TO_LOCK_ROW",
                             system=SYSTEM)  # fmt: skip
    return answers
