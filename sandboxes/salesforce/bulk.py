"""Bulk API 2.0 in the sandbox org: query jobs with CSV locator paging, upsert ingest jobs.

Query jobs snapshot their rows when created (like a query locator) and report ``InProgress``
for ``polls_before_complete`` status calls before ``JobComplete``, so clients must really poll.
Ingest jobs take one CSV upload, run on ``UploadComplete`` through the same validation as
sObject Collections, and keep successful, failed and unprocessed rows for download.
"""

from __future__ import annotations

import base64
import csv
import io
import threading
from dataclasses import dataclass, field
from typing import Any

from sandboxes.salesforce.cpq_seed import salesforce_id
from sandboxes.salesforce.locators import PackedRows
from sandboxes.salesforce.soql import FieldPath, parse_soql
from sandboxes.salesforce.writes import SandboxError, find_object, upsert_collection

_NUMBER_TYPES = frozenset({"double", "currency", "percent"})
BULK_NULL = "#N/A"
# Rows per packed chunk of a query job's snapshot (results pages slice across chunks).
_PACKED_ROWS = 2000


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        message = "FeatureNotEnabled : Cannot serialize compound fields in CSV"
        raise SandboxError(400, "API_ERROR", message)
    text = str(value)
    # Bulk writes datetimes in UTC with a Z, where REST writes +0000.
    return text[:-5] + "Z" if text.endswith("+0000") else text


def _column_value(row: dict[str, Any], column: str) -> Any:
    value: Any = row
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass
class _Job:
    info: dict[str, Any]
    polls_left: int
    columns: list[str] = field(default_factory=list)
    rows: PackedRows = field(default_factory=lambda: PackedRows((), _PACKED_ROWS, 0))
    upload: bytes = b""
    results: dict[str, list[list[str]]] = field(default_factory=dict)


class SandboxBulk:
    """Bulk API 2.0 jobs of one org; thread-safe."""

    def __init__(self, org: Any, polls_before_complete: int = 1) -> None:
        self._org = org
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self.polls_before_complete = polls_before_complete
        self.ingest_abort_after: int | None = None

    def _new_info(
        self, kind: str, operation: str, object_name: str, version: str
    ) -> dict[str, Any]:
        with self._lock:
            job_id = salesforce_id("750", len(self._jobs) + 1)
        stamp = self._org.clock.now()
        return {
            "id": job_id, "operation": operation, "object": object_name,
            "createdById": "0055g00000RbUSRAA2", "createdDate": stamp, "systemModstamp": stamp,
            "state": "UploadComplete" if kind == "query" else "Open",
            "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(version),
            "jobType": "V2Query" if kind == "query" else "V2Ingest", "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }  # fmt: skip

    def _job(self, job_id: str, job_type: str) -> _Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.info["jobType"] != job_type:
            raise SandboxError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def create_query(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        """Create a query job; the query is checked (and snapshotted) now."""
        operation = body.get("operation", "query")
        query = parse_soql(str(body.get("query", "")))
        if any(not isinstance(item, FieldPath) for item in query.items):
            raise SandboxError(400, "API_ERROR",
                               "Aggregate Relationships not supported in Bulk Query")  # fmt: skip
        rows = self._org.query_packed(
            str(body["query"]), operation == "queryAll", version, _PACKED_ROWS
        )
        info = self._new_info("query", operation, find_object(query.object_name).name, version)
        columns = [str(item) for item in query.items]
        job = _Job(info, self.polls_before_complete, columns, rows)
        with self._lock:
            self._jobs[info["id"]] = job
        return dict(info)

    def job_info(self, job_id: str, job_type: str) -> dict[str, Any]:
        """A job's status; a query job completes after ``polls_before_complete`` polls."""
        job = self._job(job_id, job_type)
        with self._lock:
            if job.info["state"] == "UploadComplete":
                if job.polls_left > 0:
                    job.polls_left -= 1
                    return {**job.info, "state": "InProgress"}
                job.info["state"] = "JobComplete"
                job.info["numberRecordsProcessed"] = len(job.rows)
            return dict(job.info)

    def query_results(self, job_id: str, locator: str | None, max_records: int
                      ) -> tuple[bytes, dict[str, str]]:  # fmt: skip
        """One CSV page of a completed query job and its ``Sforce-Locator`` header."""
        job = self._job(job_id, "V2Query")
        if job.info["state"] != "JobComplete":
            raise SandboxError(400, "API_ERROR", f"Job {job_id} is not complete")
        offset = int(base64.b64decode(locator).decode()) if locator else 0
        end = min(offset + max(1, max_records), len(job.rows))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(job.columns)
        with self._org.lock:  # unread rows are shaped from the org's records
            rows = job.rows.slice(offset, end)
        for row in rows:
            writer.writerow([_cell(_column_value(row, c)) for c in job.columns])
        next_locator = (
            base64.b64encode(str(end).encode()).decode() if end < len(job.rows) else "null"
        )
        headers = {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(end - offset)}
        return buffer.getvalue().encode(), headers

    def create_ingest(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        """Create an upsert ingest job waiting for its CSV upload."""
        if body.get("operation") != "upsert" or not body.get("externalIdFieldName"):
            raise SandboxError(400, "INVALIDJOB", "The sandbox supports upsert ingest jobs only")
        obj = find_object(str(body.get("object", "")))
        info = self._new_info("ingest", "upsert", obj.name, version)
        info["externalIdFieldName"] = body["externalIdFieldName"]
        info["contentUrl"] = f"services/data/v{version}/jobs/ingest/{info['id']}/batches"
        with self._lock:
            self._jobs[info["id"]] = _Job(info, 0)
        return dict(info)

    def upload(self, job_id: str, content: bytes) -> None:
        """Take the job's CSV data (one upload per job)."""
        job = self._job(job_id, "V2Ingest")
        if job.info["state"] != "Open":
            raise SandboxError(409, "INVALIDJOB", f"Job {job_id} is not open for uploads")
        job.upload = content

    def change_state(self, job_id: str, state: str) -> dict[str, Any]:
        """``UploadComplete`` runs the job; ``Aborted`` abandons it."""
        job = self._job(job_id, "V2Ingest")
        if state == "Aborted":
            job.info["state"] = "Aborted"
        elif state == "UploadComplete" and job.info["state"] == "Open":
            _run_ingest(self._org, job, self.ingest_abort_after)
        else:
            raise SandboxError(400, "INVALIDJOB", f"Can't move job {job_id} to {state}")
        return dict(job.info)

    def ingest_results(self, job_id: str, listing: str) -> bytes:
        """``successfulResults``, ``failedResults`` or ``unprocessedrecords`` as CSV."""
        job = self._job(job_id, "V2Ingest")
        if listing not in job.results:
            raise SandboxError(404, "NOT_FOUND", "The requested resource does not exist")
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(job.results[listing])
        return buffer.getvalue().encode()


def _typed(kind: str, text: str) -> Any:
    if text == BULK_NULL:
        return None
    if kind == "boolean":
        return text.lower() == "true"
    if kind in _NUMBER_TYPES:
        return float(text)
    if kind == "int":
        return int(float(text))
    return text


def _run_ingest(org: Any, job: _Job, abort_after: int | None) -> None:
    obj = find_object(job.info["object"])
    reader = csv.reader(io.StringIO(job.upload.decode("utf-8")))
    header = next(reader, [])
    rows = list(reader)
    kinds = [getattr(obj.field(name), "type", "string") for name in header]
    processed = rows if abort_after is None else rows[:abort_after]
    successful, failed = [["sf__Id", "sf__Created", *header]], [["sf__Id", "sf__Error", *header]]
    for start in range(0, len(processed), 200):
        chunk = processed[start : start + 200]
        # An empty cell leaves the field alone; #N/A sets it to null.
        records = [
            {"attributes": {"type": obj.name}}
            | {name: _typed(kind, cell) for name, kind, cell in zip(header, kinds, row, strict=True)
               if cell != ""}
            for row in chunk
        ]  # fmt: skip
        answers = upsert_collection(org, obj.name, job.info["externalIdFieldName"],
                                    {"allOrNone": False, "records": records})  # fmt: skip
        for row, answer in zip(chunk, answers, strict=True):
            if answer["success"]:
                successful.append([answer["id"], str(answer["created"]).lower(), *row])
            else:
                error = answer["errors"][0]
                text = f"{error['statusCode']}:{error['message']}:{','.join(error['fields'])} --"
                failed.append(["", text, *row])
    job.results = {"successfulResults": successful, "failedResults": failed,
                   "unprocessedrecords": [header, *rows[len(processed):]]}  # fmt: skip
    job.info.update(
        state="JobComplete" if abort_after is None else "Failed",
        numberRecordsProcessed=len(processed), numberRecordsFailed=len(failed) - 1,
    )  # fmt: skip
    if abort_after is not None:
        job.info["errorMessage"] = "InternalServerError : the job was aborted by the sandbox"
