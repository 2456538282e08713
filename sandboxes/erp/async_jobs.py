"""The ERP sandbox's asynchronous job queue: asyncUpsertList, checkAsyncStatus, getAsyncResult.

NetSuite queues an ``asyncUpsertList`` (up to 200 records) as a job and answers with its jobId,
status ``pending``; the caller polls ``checkAsyncStatus`` until the job is ``finished``,
``finishedWithErrors`` or ``failed``, then reads the per-record writeResponses with
``getAsyncResult``. Here a job is carried out on its K-th status check (K configurable, 1 by
default), so tests and benches decide how many polls a job takes without any timer.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from sandboxes.erp.render import (
    MESSAGES,
    XSI,
    SoapFault,
    message_envelope,
    upsert_list_envelope,
)
from sandboxes.erp.store import ErpStore, UpsertOutcome

# SuiteTalk's limit for asyncUpsertList (upsertList takes 100).
MAX_RECORDS_PER_JOB = 200
ASYNC_OPERATIONS = frozenset({"asyncUpsertList", "checkAsyncStatus", "getAsyncResult"})
# NetSuite's own words for an unknown job (AsyncFault, code INVALID_JOB_ID).
_INVALID_JOB = ("asyncFault", "INVALID_JOB_ID", "Invalid job id {job_id}.")

RecordsOf = Callable[[etree._Element], list[tuple[str, dict[str, Any]]]]


@dataclass
class _Job:
    records: list[tuple[str, dict[str, Any]]]
    checks_left: int
    fails: bool
    status: str = "pending"
    outcomes: list[UpsertOutcome] = field(default_factory=list)


class AsyncJobs:
    """Queued asyncUpsertList jobs by jobId; thread-safe."""

    def __init__(self, records_of: RecordsOf) -> None:
        self._records_of = records_of
        self._jobs: dict[str, _Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.checks_to_finish = 1
        self.failing_jobs = 0  # the next N jobs submitted end ``failed``

    def answer(self, operation: str, request: etree._Element, store: ErpStore) -> bytes:
        """The response envelope for one of :data:`ASYNC_OPERATIONS`."""
        job_id = request.findtext(f"{{{MESSAGES}}}jobId") or ""
        if operation == "asyncUpsertList":
            return self._submit(request)
        if operation == "checkAsyncStatus":
            return self._check(job_id, store)
        page_index = request.findtext(f"{{{MESSAGES}}}pageIndex") or "1"
        return self._result(job_id, page_index)

    def _submit(self, request: etree._Element) -> bytes:
        records = self._records_of(request)
        if len(records) > MAX_RECORDS_PER_JOB:
            message = (
                f"asyncUpsertList takes at most {MAX_RECORDS_PER_JOB} records; got {len(records)}."
            )
            raise SoapFault("exceededRecordCountFault", "MAX_RCRDS_EXCEEDED", message)
        with self._lock:
            job_id = f"ASYNCWEBSERVICES_{next(self._ids):08d}"
            fails = self.failing_jobs > 0
            self.failing_jobs -= int(fails)
            job = _Job(records, max(1, self.checks_to_finish), fails)
            self._jobs[job_id] = job
        return _status_envelope("asyncUpsertListResponse", job_id, job)

    def _check(self, job_id: str, store: ErpStore) -> bytes:
        with self._lock:
            job = self._job(job_id)
            if job.status in {"pending", "processing"}:
                job.checks_left -= 1
                if job.checks_left > 0:
                    job.status = "processing"
                else:
                    _carry_out(job, store)
        return _status_envelope("checkAsyncStatusResponse", job_id, job)

    def _result(self, job_id: str, page_index: str) -> bytes:
        with self._lock:
            job = self._job(job_id)
        if job.status in {"pending", "processing"}:
            raise SoapFault("asyncFault", "JOB_NOT_COMPLETE", f"Job {job_id} is not complete.")
        if page_index != "1":
            raise SoapFault("asyncFault", "INVALID_PAGE_INDEX", f"Invalid page index {page_index}.")
        return _result_envelope(job.outcomes)

    def _job(self, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            element, code, message = _INVALID_JOB
            raise SoapFault(element, code, message.format(job_id=job_id[:100]))
        return job


def _carry_out(job: _Job, store: ErpStore) -> None:
    if job.fails:
        job.status = "failed"  # NetSuite gives no per-record results for a failed job
        return
    job.outcomes = [store.upsert(record_type, fields) for record_type, fields in job.records]
    job.status = "finished" if all(o.ok for o in job.outcomes) else "finishedWithErrors"


def _status_envelope(element: str, job_id: str, job: _Job) -> bytes:
    done = job.status not in {"pending", "processing"}
    result = {
        "jobId": job_id,
        "status": job.status,
        "percentCompleted": 100.0 if done else 0.0,
        "estRemainingDuration": 0.0,
    }
    return message_envelope(element, {"asyncStatusResult": result})


def _result_envelope(outcomes: list[UpsertOutcome]) -> bytes:
    """``getAsyncResultResponse``: upsertList's writeResponseList inside an asyncResult."""
    # The writeResponses are upsertList's own (render.py's hot path), re-parented here.
    root = etree.fromstring(upsert_list_envelope(outcomes))
    response = root.find(f".//{{{MESSAGES}}}upsertListResponse")
    response.tag = f"{{{MESSAGES}}}getAsyncResultResponse"
    response_list = response[0]
    result = etree.SubElement(response, f"{{{MESSAGES}}}asyncResult")
    result.set(f"{{{XSI}}}type", "platformMsgs:AsyncUpsertListResult")
    result.append(response_list)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
