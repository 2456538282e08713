"""The Salesforce connector: incremental SOQL reads, Bulk API 2.0 backfills, upserts.

simple-salesforce does the HTTP; this class wraps it behind a small typed surface, logs in
itself (:mod:`connectors.salesforce.auth`), classifies every failure into
:mod:`connectors.errors`, retries transient ones with tenacity, and stops before the org's
daily API allocation drops below the configured floor (:mod:`connectors.salesforce.limits`).

Reads go through ``queryAll`` (deleted rows arrive with ``IsDeleted``). When the first REST
page says the backlog is at least ``bulk_read_threshold`` records, the rest is read by a Bulk
API 2.0 query job after that page's cursor. Specs with child subqueries or compound fields
stay on REST, because Bulk queries support neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from config.settings import RetrySettings, SalesforceSettings
from connectors.base import (
    Cursor,
    DeleteResult,
    Page,
    RawRecord,
    ReadSpec,
    WriteResult,
    WriteSpec,
)
from connectors.errors import TransientError
from connectors.retry import Sleep, retry_policy
from connectors.salesforce.auth import SYSTEM, build_http_session, can_log_in, open_session
from connectors.salesforce.bulk import BulkJobs
from connectors.salesforce.children import with_child_reads
from connectors.salesforce.csv_rows import RestShaper
from connectors.salesforce.deletes import delete_records
from connectors.salesforce.describe import COMPOUND_TYPES, DescribeCache
from connectors.salesforce.error_codes import classify
from connectors.salesforce.limits import ApiBudget
from connectors.salesforce.soql import (
    build_fetch_soql,
    build_read_soql,
    checked_name,
    read_field_names,
    soql_datetime,
)
from connectors.salesforce.writes import SalesforceWriter

__all__ = ["SalesforceConnector", "build_fetch_soql", "build_read_soql", "soql_datetime"]
T = TypeVar("T")


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
        """``sleep`` replaces ``time.sleep`` in retries and Bulk polling; ``http`` the session."""
        self._settings = settings
        self._http = http or build_http_session(settings)
        self._http.hooks["response"].append(self._observe)
        # Salesforce's REQUEST_LIMIT_EXCEEDED means the daily allowance is spent: retrying in
        # seconds only burns calls, so RateLimited goes straight to the engine.
        self._retrying = retry_policy(retry, sleep=sleep, retry_rate_limited=False)
        self._client: Salesforce | None = None
        self._budget = ApiBudget(settings.api_floor_percent)
        self._describe = DescribeCache(self._fetch_describe, settings.api_version)
        self._bulk = BulkJobs(
            self._call, sleep=sleep or time.sleep, poll_seconds=settings.bulk_poll_seconds,
            timeout_seconds=settings.bulk_timeout_seconds,
            request_timeout=settings.timeout_seconds,
        )  # fmt: skip
        self._writer = SalesforceWriter(self._call, self._bulk, self._describe, settings)
        self.api_calls = 0

    def __repr__(self) -> str:
        return f"SalesforceConnector(login_url={self._settings.login_url!r})"

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """The org's ``(used, daily allocation)`` from the last ``Sforce-Limit-Info``."""
        return self._budget.usage

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Count data API calls and record ``Sforce-Limit-Info`` from every response."""
        if "/services/data/" in urlsplit(response.url).path:
            self.api_calls += 1
        self._budget.observe(response.headers.get("Sforce-Limit-Info"))

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
        self._budget.ensure_room()
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
        """Run one API call with the budget check, re-login, classification and retries."""
        result: T = self._retrying(self._classified, operation)
        return result

    def check(self) -> None:
        """Authenticate and read the org's limits."""
        self._call(partial(_limits, timeout=self._settings.timeout_seconds))

    def _fetch_describe(self, object_name: str) -> dict[str, Any]:
        path = f"sobjects/{checked_name(object_name)}/describe"
        described = self._call(partial(_rest, path, "GET", None, self._settings.timeout_seconds))
        return dict(described or {})

    def describe(self, object_name: str) -> dict[str, Any]:
        """The object's describe metadata, fetched once per object and API version."""
        return self._describe.describe(object_name)

    def _page_size(self, spec: ReadSpec) -> int:
        return spec.page_size or self._settings.page_size

    def _query_options(self, spec: ReadSpec) -> dict[str, Any]:
        batch = min(max(self._page_size(spec), 200), 2000)
        return {"headers": {"Sforce-Query-Options": f"batchSize={batch}"},
                "timeout": self._settings.timeout_seconds}  # fmt: skip

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """Yield pages of records changed strictly after ``since``, in (stamp, id) order."""
        options = self._query_options(spec)
        children = {child.relationship.lower() for child in spec.children}
        calls = self.api_calls
        result = self._call(partial(_query, build_read_soql(spec, since), options))
        first = True
        while True:
            records = [self._clean(record, children, options) for record in result["records"]]
            cursor = self._cursor(spec, records[-1]) if records else since
            if records:
                total = int(result.get("totalSize") or 0) if first else None
                yield _page(records, self._cursor(spec, records[-1]), self.api_calls - calls, total)
                calls = self.api_calls
            if result["done"]:
                return
            if first and self._bulk_suits(spec, int(result.get("totalSize") or 0)):
                yield from self._bulk_read(spec, cursor, calls)
                return
            first = False
            result = self._call(partial(_query_more, result["nextRecordsUrl"], options))

    @staticmethod
    def _cursor(spec: ReadSpec, record: Mapping[str, Any]) -> Cursor:
        return Cursor(str(record[spec.cursor_field]), str(record[spec.key_field]))

    def _bulk_suits(self, spec: ReadSpec, backlog: int) -> bool:
        """True for a large backlog that a Bulk query can read (no children, no compounds)."""
        threshold = self._settings.bulk_read_threshold
        if threshold <= 0 or backlog < threshold or spec.children:
            return False
        types = self._column_types(spec)
        return not COMPOUND_TYPES.intersection(types.values())

    def _column_types(self, spec: ReadSpec) -> dict[str, str]:
        return {
            name: self._describe.field_at(spec.object_name, name).type
            for name in read_field_names(spec)
        }

    def _bulk_read(self, spec: ReadSpec, since: Cursor | None, calls: int) -> Iterator[Page]:
        """The rest of a large read through a Bulk API 2.0 query job, page by page.

        Each results download holds at most ``bulk_result_page`` records, so memory stays flat.
        """
        soql = build_read_soql(spec, since, with_children=False)
        types = {name.lower(): kind for name, kind in self._column_types(spec).items()}
        for header, rows in self._bulk.query(soql, self._settings.bulk_result_page):
            shaper = RestShaper(header, {c: types.get(c.lower(), "string") for c in header})
            page: list[RawRecord] = []
            for row in rows:
                page.append(shaper.shape(row))
                if len(page) >= self._page_size(spec):
                    yield _page(page, self._cursor(spec, page[-1]), self.api_calls - calls)
                    calls, page = self.api_calls, []
            if page:
                yield _page(page, self._cursor(spec, page[-1]), self.api_calls - calls)
                calls = self.api_calls

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """The records with these ids as they are now, deleted ones included (queryAll)."""
        spec = with_child_reads(self._describe, spec)
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
        """A parent's children, following the subquery's own ``nextRecordsUrl`` pages."""
        while result:
            yield from result["records"]
            if result.get("done", True):
                return
            result = self._call(partial(_query_more, result["nextRecordsUrl"], options))

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Upsert on ``spec.external_id_field``; fields are checked against describe first."""
        return self._writer.upsert(spec, payloads)

    def delete(self, spec: WriteSpec, target_ids: Sequence[str]) -> list[DeleteResult]:
        """Delete records by Salesforce id into the recycle bin (sObject Collections delete)."""
        return delete_records(self._call, self._settings.timeout_seconds, target_ids)

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


def _page(
    records: list[RawRecord], cursor: Cursor, api_calls: int, total: int | None = None
) -> Page:
    """A page with queryAll's deleted rows (``IsDeleted``) set apart from the live ones."""
    live = [record for record in records if not record.get("IsDeleted")]
    gone = [record for record in records if record.get("IsDeleted")]
    return Page(records=live, cursor=cursor, api_calls=api_calls, deleted=gone, total=total)
