"""Deleting NetSuite records: ``deleteList`` batches of RecordRefs and their per-record results.

Records are named by internalId (what revbridge's xref holds for the ERP). A record NetSuite
no longer has (``RCRD_DSNT_EXIST``: deleted by a user, or by an earlier attempt whose answer
was lost) counts as deleted, so a re-run after a crash is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import DeleteOutcome, DeleteResult
from connectors.erp.reads import custom_record_refs, record_refs
from connectors.erp.records import RecordKind
from connectors.erp.replies import WriteAnswer, one_per_record
from connectors.erp.soap import SoapSession
from connectors.errors import RecordRejected

ALREADY_DELETED_CODES = frozenset({"RCRD_DSNT_EXIST"})


def delete_results(target_ids: Sequence[str], answers: Sequence[WriteAnswer]) -> list[DeleteResult]:
    """Map a ``deleteList`` reply's writeResponses, in order, to per-record results."""
    checked = one_per_record(answers, len(target_ids), "deletions")
    return [delete_result(t, answer) for t, answer in zip(target_ids, checked, strict=True)]


def delete_result(target_id: str, answer: WriteAnswer) -> DeleteResult:
    """One writeResponse of a delete or deleteList as a :class:`DeleteResult`."""
    if answer.success:
        return DeleteResult(target_id, DeleteOutcome.DELETED)
    if answer.code in ALREADY_DELETED_CODES:
        return DeleteResult(target_id, DeleteOutcome.ALREADY_DELETED)
    return DeleteResult(
        target_id, DeleteOutcome.REJECTED, error_code=answer.code, error_message=answer.message
    )


def delete_records(
    soap: SoapSession, kind: RecordKind, target_ids: Sequence[str], type_id: str | None = None
) -> list[DeleteResult]:
    """Delete ``kind`` records by internalId in batches of ``batch_size``.

    ``type_id`` is the custom record type's internal id when ``kind`` is ``CustomRecord``: a
    custom record is named by a ``CustomRecordRef``, or NetSuite finds no such record.
    """
    size = soap.settings.batch_size
    results: list[DeleteResult] = []
    for start in range(0, len(target_ids), size):
        batch = list(target_ids[start : start + size])
        results += _delete_batch(soap, kind, batch, type_id)
    return results


def _delete_batch(
    soap: SoapSession, kind: RecordKind, batch: list[str], type_id: str | None
) -> list[DeleteResult]:
    refs = (
        record_refs(soap.type, kind, batch)
        if type_id is None
        else custom_record_refs(soap.type, type_id, batch)
    )
    try:
        answers = soap.call_list_write("delete", baseRef=refs)
    except RecordRejected as rejected:
        if len(batch) == 1:
            return [DeleteResult(batch[0], DeleteOutcome.REJECTED, rejected.code, rejected.message)]
        # A fault blames the whole batch: split it until the offending records stand alone.
        middle = len(batch) // 2
        return [
            *_delete_batch(soap, kind, batch[:middle], type_id),
            *_delete_batch(soap, kind, batch[middle:], type_id),
        ]
    return delete_results(batch, answers)
