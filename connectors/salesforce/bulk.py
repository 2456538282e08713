"""Bulk API 2.0 query and ingest jobs, through simple-salesforce's own HTTP call path.

A query job is created, polled until ``JobComplete``, then its CSV results are read one
locator page at a time (``maxRecords`` bounds each page, so memory stays flat however large the
result). An ingest job uploads CSV, is closed with ``UploadComplete``, polled, and its
successful, failed and unprocessed record lists are read back for the caller to map per record.
Every HTTP call goes through the connector's runner (re-login, classification, retries).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from simple_salesforce.api import Salesforce
from simple_salesforce.util import call_salesforce

from connectors.errors import ConfigError, TransientError
from connectors.retry import Sleep
from connectors.salesforce.csv_rows import read_csv
from connectors.salesforce.login import SYSTEM

T = TypeVar("T")
_DONE_STATES = frozenset({"JobComplete", "Failed", "Aborted"})


class CallRunner(Protocol):
    """Runs one API operation with re-login, classification and retries."""

    def __call__(self, operation: Callable[[Salesforce], T]) -> T:
        """Run ``operation`` against the live client."""
        ...


@dataclass(frozen=True)
class IngestResults:
    """An ingest job's three record lists, each a CSV header and its rows."""

    job_id: str
    successful: tuple[list[str], list[list[str]]]
    failed: tuple[list[str], list[list[str]]]
    unprocessed: tuple[list[str], list[list[str]]]


def _json_call(method: str, path: str, body: Any, timeout: float, client: Salesforce) -> Any:
    response = call_salesforce(
        client.base_url + path, method, client.session, client.headers.copy(), json=body,
        timeout=timeout,
    )  # fmt: skip
    return response.json() if response.content else None


def _csv_upload(path: str, content: bytes, timeout: float, client: Salesforce) -> None:
    headers = {**client.headers, "Content-Type": "text/csv"}
    call_salesforce(client.base_url + path, "PUT", client.session, headers, data=content,
                    timeout=timeout)  # fmt: skip


def _csv_download(
    path: str, params: dict[str, Any], timeout: float, client: Salesforce
) -> tuple[str, str | None]:
    headers = {**client.headers, "Accept": "text/csv"}
    response = call_salesforce(client.base_url + path, "GET", client.session, headers,
                               params=params, timeout=timeout)  # fmt: skip
    locator = response.headers.get("Sforce-Locator")
    return response.content.decode("utf-8"), None if locator in (None, "", "null") else locator


class BulkJobs:
    """Bulk API 2.0 jobs over one connector's runner; ``sleep`` paces the polling."""

    def __init__(
        self,
        call: CallRunner,
        *,
        sleep: Sleep,
        poll_seconds: float,
        timeout_seconds: float,
        request_timeout: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._call, self._sleep, self._monotonic = call, sleep, monotonic
        self._poll, self._deadline, self._timeout = poll_seconds, timeout_seconds, request_timeout
        self.last_job_id: str | None = None

    def query(self, soql: str, max_records: int) -> Iterator[tuple[list[str], Iterable[list[str]]]]:
        """Run a ``queryAll`` job; yield each locator page as (header, rows)."""
        body = {"operation": "queryAll", "query": soql, "contentType": "CSV",
                "columnDelimiter": "COMMA", "lineEnding": "LF"}  # fmt: skip
        job = self._call(partial(_json_call, "POST", "jobs/query", body, self._timeout))
        self.last_job_id = job_id = str(job["id"])
        self._wait(f"jobs/query/{job_id}")
        locator: str | None = None
        while True:
            params: dict[str, Any] = {"maxRecords": max_records}
            if locator:
                params["locator"] = locator
            path = f"jobs/query/{job_id}/results"
            text, locator = self._call(partial(_csv_download, path, params, self._timeout))
            yield read_csv(text)
            if locator is None:
                return

    def upsert(self, object_name: str, external_id_field: str, content: bytes) -> IngestResults:
        """Run an upsert ingest job over ``content`` (CSV) and read its results back."""
        body = {"object": object_name, "externalIdFieldName": external_id_field,
                "contentType": "CSV", "operation": "upsert", "lineEnding": "LF"}  # fmt: skip
        job = self._call(partial(_json_call, "POST", "jobs/ingest", body, self._timeout))
        self.last_job_id = job_id = str(job["id"])
        base = f"jobs/ingest/{job_id}"
        self._call(partial(_csv_upload, f"{base}/batches", content, self._timeout))
        close = {"state": "UploadComplete"}
        self._call(partial(_json_call, "PATCH", base, close, self._timeout))
        self._wait(base, failed_ok=True)
        lists = [
            self._whole_csv(f"{base}/{name}/")
            for name in ("successfulResults", "failedResults", "unprocessedrecords")
        ]
        return IngestResults(job_id, *lists)

    def _whole_csv(self, path: str) -> tuple[list[str], list[list[str]]]:
        text, _ = self._call(partial(_csv_download, path, {}, self._timeout))
        header, rows = read_csv(text)
        return header, list(rows)

    def _wait(self, path: str, *, failed_ok: bool = False) -> dict[str, Any]:
        """Poll a job until it is done; a failed query job is a ConfigError with its reason."""
        deadline = self._monotonic() + self._deadline
        while True:
            info: dict[str, Any] = self._call(partial(_json_call, "GET", path, None, self._timeout))
            state = str(info.get("state", ""))
            if state in _DONE_STATES:
                break
            if self._monotonic() >= deadline:
                raise TransientError(
                    f"Bulk API job {path} still {state} after {self._deadline:g} s; it keeps "
                    "running in Salesforce, the next run starts a new one",
                    system=SYSTEM,
                )
            self._sleep(self._poll)
        if state != "JobComplete" and not failed_ok:
            raise ConfigError(
                f"Bulk API job {path} ended {state}: {info.get('errorMessage', '')}",
                system=SYSTEM,
            )
        return info
