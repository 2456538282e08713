"""The shared retry policy: what it retries, how long it waits, what it finally raises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.settings import RetrySettings
from connectors.errors import AuthError, RateLimited, TransientError
from connectors.retry import retry_after_seconds, retry_policy


class FlakyCall:
    """Raises the given errors in turn, then returns ``"done"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), (" 1.5 ", 1.5), ("-3", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_reads_delta_seconds_and_ignores_garbage(
    header: str | None, expected: float | None
) -> None:
    assert retry_after_seconds(header) == expected


def test_retry_after_reads_an_http_date_relative_to_now() -> None:
    now = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Mon, 05 Jan 2026 10:00:20 GMT", now=now) == 20.0


def test_rate_limited_waits_what_the_system_asked_for() -> None:
    waits: list[float] = []
    call = FlakyCall(RateLimited("slow down", retry_after=7.0))
    assert retry_policy(RetrySettings(attempts=2), sleep=waits.append)(call) == "done"
    assert waits == [7.0]


def test_rate_limited_wait_is_capped_by_max_wait() -> None:
    waits: list[float] = []
    call = FlakyCall(RateLimited("slow down", retry_after=600.0))
    retry_policy(RetrySettings(attempts=2, max_wait_seconds=5.0), sleep=waits.append)(call)
    assert waits == [5.0]


def test_transient_errors_back_off_with_growing_capped_waits() -> None:
    waits: list[float] = []
    call = FlakyCall(*(TransientError("503") for _ in range(5)))
    settings = RetrySettings(attempts=6, max_wait_seconds=3.0)
    assert retry_policy(settings, sleep=waits.append)(call) == "done"
    assert len(waits) == 5
    assert all(0 < wait <= 3.0 for wait in waits)
    assert waits[-1] > waits[0]


def test_last_transient_error_is_raised_after_the_attempts_run_out() -> None:
    call = FlakyCall(*(TransientError(f"failure {n}") for n in range(3)))
    with pytest.raises(TransientError, match="failure 2"):
        retry_policy(RetrySettings(attempts=3), sleep=lambda _: None)(call)
    assert call.calls == 3


def test_non_transient_errors_are_raised_at_once() -> None:
    call = FlakyCall(AuthError("refused"))
    with pytest.raises(AuthError):
        retry_policy(RetrySettings(attempts=5), sleep=lambda _: None)(call)
    assert call.calls == 1
