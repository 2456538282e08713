"""Deleting Salesforce records: sObject Collections delete, 200 ids a call, ``allOrNone=false``.

Deleted records go to the org's recycle bin, so incremental reads (queryAll) see ``IsDeleted``.
A record that is already deleted (``ENTITY_IS_DELETED``) or not there at all (``NOT_FOUND``,
``INVALID_CROSS_REFERENCE_KEY``) counts as deleted, so a re-run after a crash is harmless;
any other per-record error is a rejection for the error queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from simple_salesforce.api import Salesforce

from connectors.base import DeleteOutcome, DeleteResult
from connectors.errors import TransientError
from connectors.salesforce.bulk import CallRunner
from connectors.salesforce.error_codes import locked_count
from connectors.salesforce.login import SYSTEM

COLLECTION_LIMIT = 200
ALREADY_DELETED_CODES = frozenset({"ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY"})


def delete_result(target_id: str, answer: Mapping[str, Any]) -> DeleteResult:
    """One sObject Collections delete result as a :class:`DeleteResult`."""
    if answer.get("success"):
        return DeleteResult(target_id, DeleteOutcome.DELETED)
    errors = answer.get("errors") or [{}]
    code = str(errors[0].get("statusCode", ""))
    if code in ALREADY_DELETED_CODES:
        return DeleteResult(target_id, DeleteOutcome.ALREADY_DELETED)
    message = "; ".join(str(error.get("message", "")) for error in errors)
    return DeleteResult(target_id, DeleteOutcome.REJECTED, error_code=code, error_message=message)


def delete_records(call: CallRunner, timeout: float, ids: Sequence[str]) -> list[DeleteResult]:
    """Delete records by Salesforce id, in calls of up to 200; one result per id, in order."""
    results: list[DeleteResult] = []
    for start in range(0, len(ids), COLLECTION_LIMIT):
        chunk = list(ids[start : start + COLLECTION_LIMIT])
        answers = call(partial(_delete, chunk, timeout))
        results += [delete_result(i, a) for i, a in zip(chunk, answers, strict=True)]
    return results


def _delete(ids: list[str], timeout: float, client: Salesforce) -> list[Any]:
    params = {"ids": ",".join(ids), "allOrNone": "false"}
    answers = client.restful("composite/sobjects", params=params, method="DELETE", timeout=timeout)
    if not isinstance(answers, list) or len(answers) != len(ids):
        raise TransientError(f"composite/sobjects answered {answers!r:.200} for a delete",
                             system=SYSTEM)  # fmt: skip
    if locked_count(answers):
        # Deleting is idempotent here (already deleted = success), so the batch can go again.
        raise TransientError("composite/sobjects delete hit UNABLE_TO_LOCK_ROW", system=SYSTEM)
    return answers
