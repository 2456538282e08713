"""Writing to NetSuite: ``upsertList`` batches by externalId and their per-record results.

NetSuite's upsert does not say whether it created or updated a record, so a landed record is
``UPSERTED`` (the engine tells created from updated by its own write history). A record whose
values can't be written (text XML 1.0 can't hold, a number a double would round) is rejected
by the builder and never joins a call. A batch that NetSuite refuses as a whole because one
record breaks its schema, or that zeep can't render, is split in halves until the offending
records are alone, so only they are rejected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connectors.base import WriteOutcome, WriteResult
from connectors.erp.packing import pack_calls, referenced_external_ids, waves
from connectors.erp.records import PayloadError, RecordBuilder
from connectors.erp.replies import WriteAnswer, one_per_record
from connectors.erp.soap import SoapSession
from connectors.errors import RecordRejected

_Built = tuple[int, str, Any]  # (position in the request, externalId, zeep record)


def write_results(external_ids: Sequence[str], answers: Sequence[WriteAnswer]) -> list[WriteResult]:
    """Map an ``upsertList`` reply's writeResponses, in order, to per-record results."""
    checked = one_per_record(answers, len(external_ids))
    return [_write_result(ext, answer) for ext, answer in zip(external_ids, checked, strict=True)]


def _write_result(external_id: str, answer: WriteAnswer) -> WriteResult:
    if answer.success:
        return WriteResult(external_id, WriteOutcome.UPSERTED, target_id=answer.internal_id)
    return WriteResult(
        external_id,
        WriteOutcome.REJECTED,
        error_code=answer.code,
        error_message=answer.message,
    )


class RecordWriter:
    """Upserts payloads in full batches, several batches at once where none waits for another."""

    def __init__(self, soap: SoapSession, builder: RecordBuilder) -> None:
        self._soap = soap
        self._builder = builder

    def upsert_packed(
        self,
        typed_payloads: Sequence[tuple[Any, Mapping[str, Any]]],
        *,
        hold_partial: bool = False,
    ) -> list[WriteResult | None]:
        """One result per (record type, payload), in order; None for a held-back record.

        Records of any types share calls (see :mod:`connectors.erp.packing`); with
        ``hold_partial`` a last call that would not be full is not sent.
        """
        results: list[WriteResult | None] = [None] * len(typed_payloads)
        built: list[tuple[str, set[str], _Built]] = []
        for position, (record_type, payload) in enumerate(typed_payloads):
            try:
                if not payload.get("externalId"):
                    raise PayloadError(("externalId",), "required to upsert")
                record = self._builder.build(record_type, payload)
            except PayloadError as error:
                results[position] = _rejected_locally(payload, error)
                continue
            external_id = str(payload["externalId"])
            refs = referenced_external_ids(payload)
            built.append((external_id, refs, (position, external_id, record)))
        size = self._soap.settings.batch_size
        calls = pack_calls(built, size)
        if hold_partial and calls and len(calls[-1].items) < size:
            calls.pop()  # nothing waits for the last call: its records go out next time
        for wave in waves(calls):
            batches = [call.items for call in wave]
            for batch, answers in zip(batches, self._send_all(batches), strict=True):
                for (position, _, _), answer in zip(batch, answers, strict=True):
                    results[position] = answer
        return results

    def _send_all(self, batches: list[list[_Built]]) -> list[list[WriteResult]]:
        workers = min(self._soap.settings.concurrency, len(batches))
        if workers <= 1:
            return [self._send(batch) for batch in batches]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="erp-upsert") as pool:
            return list(pool.map(self._send, batches))

    def _send(self, batch: list[_Built]) -> list[WriteResult]:
        external_ids = [external_id for _, external_id, _ in batch]
        records = [record for _, _, record in batch]
        try:
            answers = self._soap.call_list_write("upsert", record=records)
        except RecordRejected as rejected:
            if len(batch) == 1:
                return [_rejected_by_fault(external_ids[0], rejected)]
            middle = len(batch) // 2
            return self._send(batch[:middle]) + self._send(batch[middle:])
        return write_results(external_ids, answers)


def upsert_once(
    soap: SoapSession, builder: RecordBuilder, record_type: Any, payload: Mapping[str, Any]
) -> WriteResult:
    """Upsert one record in one try: a transient failure is raised for the caller to retry."""
    external_id = str(payload.get("externalId", ""))
    try:
        record = builder.build(record_type, payload)
        (answer,) = write_results(
            [external_id], soap.call_list_write("upsert", retried=False, record=[record])
        )
    except PayloadError as error:
        return _rejected_locally(payload, error)
    except RecordRejected as rejected:
        return _rejected_by_fault(external_id, rejected)
    return answer


def _rejected_locally(payload: Mapping[str, Any], error: PayloadError) -> WriteResult:
    return WriteResult(
        str(payload.get("externalId", "")),
        WriteOutcome.REJECTED,
        error_code="INVALID_PAYLOAD",
        error_message=str(error),
        error_fields=(error.field,),
    )


def _rejected_by_fault(external_id: str, rejected: RecordRejected) -> WriteResult:
    return WriteResult(
        external_id,
        WriteOutcome.REJECTED,
        error_code=rejected.code,
        error_message=rejected.message,
        error_fields=rejected.fields,
    )
