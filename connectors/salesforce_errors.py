"""Salesforce answers classified into revbridge's error hierarchy and per-record results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from simple_salesforce.exceptions import SalesforceError

from connectors.base import WriteOutcome, WriteResult
from connectors.errors import AuthError, ConfigError, ConnectorError, RateLimited, TransientError
from connectors.salesforce_login import SYSTEM

# Record-level codes that pass by themselves: the same batch succeeds when sent again.
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})


def first_error(content: Any) -> tuple[str, str]:
    """Salesforce's first ``(errorCode, message)`` from an error body."""
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    return "", str(content)[:300]


def classify(error: SalesforceError) -> ConnectorError:
    """Map a simple-salesforce error onto revbridge's hierarchy, by status and errorCode."""
    code, message = first_error(error.content)
    where = f"{urlsplit(error.url).path} answered HTTP {error.status}"
    text = f"{where} {code}: {message}".strip()
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RateLimited(f"{text}; wait for the org's API allowance", system=SYSTEM)
    if error.status >= 500 or code in TRANSIENT_CODES:
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


def locked_count(answers: list[Any]) -> int:
    """How many results of a batch failed for a transient, record-level reason."""
    return sum(
        1
        for answer in answers
        if any(e.get("statusCode") in TRANSIENT_CODES for e in answer.get("errors") or ())
    )
