"""Salesforce answers classified into revbridge's error hierarchy and per-record results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from simple_salesforce.exceptions import SalesforceError

from connectors.base import WriteOutcome, WriteResult
from connectors.errors import AuthError, ConfigError, ConnectorError, RateLimited, TransientError
from connectors.salesforce.login import SYSTEM

# Record-level codes that pass by themselves: the same batch succeeds when sent again.
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})


# Codes a whole sObject Collections request fails with when the object or its external id
# field is wrong: every batch of that object would fail alike, so the mapping must be fixed.
MAPPING_CODES = frozenset({"INVALID_FIELD", "INVALID_TYPE", "NOT_FOUND"})


def first_error(content: Any) -> tuple[str, str]:
    """Salesforce's first ``(errorCode, message)`` from an error body."""
    if isinstance(content, Mapping) and isinstance(content.get("compositeResponse"), list):
        # A Composite request refused as a whole answers its error as one subrequest result.
        inner = content["compositeResponse"]
        return first_error(
            inner[0].get("body") if inner and isinstance(inner[0], Mapping) else None
        )
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    return "", str(content)[:300]


def classify(error: SalesforceError) -> ConnectorError:
    """Map a simple-salesforce error onto revbridge's hierarchy, by status and errorCode."""
    return classify_answer(error.status, error.content, urlsplit(error.url).path)


def classify_answer(status: int, content: Any, where: str) -> ConnectorError:
    """Map an error status and body from ``where`` (a path) onto revbridge's hierarchy."""
    code, message = first_error(content)
    text = f"{where} answered HTTP {status} {code}: {message}".strip()
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RateLimited(f"{text}; wait for the org's API allowance", system=SYSTEM)
    if status == 429:  # a proxy or edge in front of the org; the org itself answers 403 above
        return RateLimited(text, system=SYSTEM)
    if status >= 500 or status == 408 or code in TRANSIENT_CODES:
        return TransientError(text, system=SYSTEM)
    if status in (401, 403):
        return AuthError(f"{text}; check the integration user's session and permissions",
                         system=SYSTEM)  # fmt: skip
    return ConfigError(f"{text}; check the object and field names in the mapping",
                       system=SYSTEM)  # fmt: skip


def subrequest_error(status: int, content: Any, where: str) -> ConnectorError | None:
    """What a Composite subrequest that failed as a whole raises; None rejects its records.

    Limits, outages, locks and permissions mean what they mean for a call of its own, and so
    does a wrong object or external id field. Any other refusal came from the records it
    carried (a value Salesforce can't parse fails the whole Collections request), so only
    those records go to the error queue and the other subrequests' records still land.
    """
    error = classify_answer(status, content, where)
    code, _ = first_error(content)
    if isinstance(error, ConfigError) and status != 404 and code not in MAPPING_CODES:
        return None
    return error


def rejected_answers(content: Any, count: int) -> list[dict[str, Any]]:
    """``count`` per-record failures, in sObject Collections' shape, for a refused request."""
    first = content[0] if isinstance(content, list) and content else {}
    code, message = first_error(content)
    fields = list(first.get("fields") or ()) if isinstance(first, Mapping) else []
    error = {"statusCode": code, "message": message, "fields": fields}
    return [{"success": False, "errors": [error]} for _ in range(count)]


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


def locked_count(answers: list[Any]) -> int:
    """How many results of a batch failed for a transient, record-level reason."""
    return sum(
        1
        for answer in answers
        if any(e.get("statusCode") in TRANSIENT_CODES for e in answer.get("errors") or ())
    )
