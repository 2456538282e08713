"""How Salesforce error answers, whole calls and Composite subrequests, are classified."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.errors import AuthError, ConfigError, RateLimited, TransientError
from connectors.salesforce.error_codes import classify_answer, first_error, subrequest_error


def _body(code: str, message: str = "m") -> list[dict[str, Any]]:
    return [{"errorCode": code, "message": message}]


def test_first_error_reads_a_composite_refused_whole() -> None:
    refused = {"compositeResponse": [{"body": _body("LIMIT_EXCEEDED", "over 25"),
                                      "httpStatusCode": 400, "referenceId": None}]}  # fmt: skip
    assert first_error(refused) == ("LIMIT_EXCEEDED", "over 25")
    assert isinstance(classify_answer(400, refused, "/composite"), ConfigError)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (503, "SERVER_UNAVAILABLE", TransientError),
        (400, "UNABLE_TO_LOCK_ROW", TransientError),
        (403, "REQUEST_LIMIT_EXCEEDED", RateLimited),
        (403, "INSUFFICIENT_ACCESS", AuthError),
        (400, "INVALID_FIELD", ConfigError),
        (404, "NOT_FOUND", ConfigError),
        (400, "JSON_PARSER_ERROR", None),
        (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", None),
    ],
)
def test_a_failed_subrequest_raises_like_a_call_unless_its_records_caused_it(
    status: int, code: str, expected: type[Exception] | None
) -> None:
    error = subrequest_error(status, _body(code), "composite/sobjects/Account/Key__c")
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [(429, RateLimited), (408, TransientError), (503, TransientError), (400, ConfigError)],
)
def test_a_bare_status_without_an_error_code_is_classified_by_the_status(
    status: int, expected: type[Exception]
) -> None:
    error = classify_answer(status, "<html>Too Many Requests</html>", "/services/data/v60.0/query")

    assert type(error) is expected
    assert f"HTTP {status}" in str(error)
