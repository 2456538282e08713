"""The one retry policy for connectors: retry transient failures, honour ``Retry-After``.

Connectors classify failures into :mod:`connectors.errors` first; this policy then acts on the
class alone: :class:`~connectors.errors.RateLimited` waits as long as the system asked (capped),
any other :class:`~connectors.errors.TransientError` backs off exponentially with jitter, and
everything else (rejections, auth, config) is raised at once. After ``attempts`` tries the last
classified error is raised as it is, so callers never see a tenacity ``RetryError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import tenacity

from config.settings import RetrySettings
from connectors.errors import RateLimited, TransientError

Sleep = Callable[[float], None]

_log = logging.getLogger(__name__)
_FIRST_BACKOFF_SECONDS = 0.5


def retry_after_seconds(header: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header (delta-seconds or HTTP-date) into seconds, if valid."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _WaitRetryAfter(tenacity.wait.wait_base):
    """Wait what a RateLimited error asked for, else exponential backoff with jitter."""

    def __init__(self, max_wait_seconds: float) -> None:
        self._max = max_wait_seconds
        # Jitter spreads retries from many workers so they don't hit the system in lockstep.
        self._backoff = tenacity.wait_exponential(
            multiplier=_FIRST_BACKOFF_SECONDS, max=max_wait_seconds
        ) + tenacity.wait_random(0, _FIRST_BACKOFF_SECONDS)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, self._max)
        return min(self._backoff(retry_state), self._max)


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    # Connector errors are built without secrets, so their text is safe to log.
    _log.warning(
        "retrying in %.2fs after attempt %d: %s",
        retry_state.upcoming_sleep,
        retry_state.attempt_number,
        error,
    )


def _is_retryable(retry_rate_limited: bool) -> Callable[[BaseException], bool]:
    def retryable(error: BaseException) -> bool:
        if isinstance(error, RateLimited):
            return retry_rate_limited
        return isinstance(error, TransientError)

    return retryable


def retry_policy(
    settings: RetrySettings, *, sleep: Sleep | None = None, retry_rate_limited: bool = True
) -> tenacity.Retrying:
    """Build the tenacity policy: retry TransientError up to ``settings.attempts``, then re-raise.

    ``sleep`` replaces ``time.sleep`` (tests pass a recorder, so they never really wait).
    ``retry_rate_limited=False`` hands RateLimited straight to the caller, for systems whose
    limit is a daily allowance that seconds of waiting can't restore (Salesforce).
    """
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(_is_retryable(retry_rate_limited)),
        stop=tenacity.stop_after_attempt(settings.attempts),
        wait=_WaitRetryAfter(settings.max_wait_seconds),
        sleep=sleep or time.sleep,
        before_sleep=_log_retry,
        reraise=True,
    )
