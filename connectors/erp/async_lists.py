"""NetSuite's asynchronous list writes: ``asyncUpsertList`` jobs, polled, then read.

A job takes up to 200 records (``upsertList`` takes 100) and runs in NetSuite's queue without
holding one of the account's concurrency slots. Each job costs a submit, one
``checkAsyncStatus`` per poll and a ``getAsyncResult``. Not wired into the engine: measured
worse than ``upsertList`` in ``bench/erp_async.py`` (see docs/performance.md), so nothing calls
it and no setting turns it on.

Per-record failures come back as REJECTED results, as from ``upsertList``; a job NetSuite ends
``failed``, or one still queued after the last poll, is a TransientError (upserts by externalId
are idempotent, so the caller may send the records again).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import tenacity

from connectors.base import WriteResult
from connectors.erp.records import SYSTEM, PayloadError, RecordBuilder
from connectors.erp.replies import WriteAnswer
from connectors.erp.soap import SoapSession
from connectors.erp.writes import _rejected_locally, write_results
from connectors.errors import TransientError

MAX_RECORDS_PER_JOB = 200
_QUEUED = frozenset({"pending", "processing", "retry"})
_DONE_WITH_RESULTS = frozenset({"finished", "finishedWithErrors"})


def _backoff() -> tenacity.wait.wait_base:
    # NetSuite's queue takes seconds to minutes per job: start at 1 s, never wait over 30 s.
    return tenacity.wait_exponential(multiplier=1, min=1, max=30)


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask after a job: ``attempts`` checks, waiting ``wait`` between them."""

    attempts: int = 30
    wait: tenacity.wait.wait_base = field(default_factory=_backoff)
    sleep: Callable[[float], None] = tenacity.nap.sleep


@dataclass(frozen=True)
class _Job:
    job_id: str
    positions: list[int]
    external_ids: list[str]


class AsyncListWriter:
    """Upserts records through ``asyncUpsertList`` jobs of up to 200 records each."""

    def __init__(
        self,
        soap: SoapSession,
        builder: RecordBuilder,
        poll: PollPolicy | None = None,
        *,
        job_size: int = MAX_RECORDS_PER_JOB,
    ) -> None:
        if not 1 <= job_size <= MAX_RECORDS_PER_JOB:
            raise ValueError(f"job_size must be 1 to {MAX_RECORDS_PER_JOB}; got {job_size}")
        self._soap = soap
        self._builder = builder
        self._poll = poll or PollPolicy()
        self._job_size = job_size

    def upsert_async(
        self, typed_payloads: Sequence[tuple[Any, Mapping[str, Any]]]
    ) -> list[WriteResult]:
        """One result per (record type, payload), in order.

        Every job is submitted before any is polled: queued jobs hold no concurrency slot.
        """
        results: list[WriteResult | None] = [None] * len(typed_payloads)
        built: list[tuple[int, str, Any]] = []
        for position, (record_type, payload) in enumerate(typed_payloads):
            try:
                if not payload.get("externalId"):
                    raise PayloadError(("externalId",), "required to upsert")
                built.append(
                    (
                        position,
                        str(payload["externalId"]),
                        self._builder.build(record_type, payload),
                    )
                )
            except PayloadError as error:
                results[position] = _rejected_locally(payload, error)
        size = self._job_size
        jobs = [self._submit(built[start : start + size]) for start in range(0, len(built), size)]
        for job in jobs:
            self._wait_for(job.job_id)
            answers = self._answers(job.job_id)
            for position, result in zip(
                job.positions, write_results(job.external_ids, answers), strict=True
            ):
                results[position] = result
        return [result for result in results if result is not None]

    def _submit(self, batch: list[tuple[int, str, Any]]) -> _Job:
        reply = self._soap.call("async_upsert", record=[record for _, _, record in batch])
        job_id = str(reply["asyncStatusResult"]["jobId"])
        return _Job(job_id, [p for p, _, _ in batch], [e for _, e, _ in batch])

    def _wait_for(self, job_id: str) -> None:
        """Poll until the job is done; each poll is itself retried by the session's policy."""
        poll = self._poll
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(poll.attempts),
            wait=poll.wait,
            sleep=poll.sleep,
            retry=tenacity.retry_if_result(lambda status: status in _QUEUED),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        status = retrying(self._status, job_id)
        if status in _DONE_WITH_RESULTS:
            return
        if status in _QUEUED:
            message = f"asyncUpsertList job {job_id} still {status} after {poll.attempts} checks"
        else:
            message = f"NetSuite ended asyncUpsertList job {job_id} {status!r}"
        raise TransientError(message, system=SYSTEM)

    def _status(self, job_id: str) -> str:
        reply = self._soap.call("async_status", jobId=job_id)
        return str(reply["asyncStatusResult"]["status"])

    def _answers(self, job_id: str) -> list[WriteAnswer]:
        reply = self._soap.call("async_result", jobId=job_id, pageIndex=1)
        response_list = reply["asyncResult"]["writeResponseList"]
        return [_write_answer(response) for response in response_list["writeResponse"]]


def _write_answer(response: Any) -> WriteAnswer:
    """A zeep ``writeResponse`` as the WriteAnswer ``upsertList`` replies are read into."""
    status = response["status"]
    details = tuple(
        (str(detail["code"] or ""), str(detail["message"] or ""))
        for detail in status["statusDetail"] or []
    )
    base_ref = response["baseRef"]
    internal_id = None if base_ref is None else getattr(base_ref, "internalId", None)
    return WriteAnswer(bool(status["isSuccess"]), internal_id, details)
