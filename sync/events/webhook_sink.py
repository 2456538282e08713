"""An HTTP webhook sink: each event POSTed, signed the Standard Webhooks way, retried, then
dead-lettered.

An event is delivered when the endpoint answers 2xx. Any other answer, a timeout or a
connection dropped after the request went out is retried (tenacity) with doubling waits, or
as long as a 429's or 503's ``Retry-After`` asks, both capped at ``max_wait_seconds``; after
``attempts`` failures the event is dead-lettered for this sink and the next one is sent. An
endpoint that cannot even be connected to is down, not refusing the event: the drain stops
and the events wait. ``webhook-timestamp`` and the signatures are made afresh for each
attempt, so a retry is never refused as too old.

Messages name the endpoint by host and port only: its URL may carry a token.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import requests
import tenacity
from urllib3.exceptions import MaxRetryError, NewConnectionError

from config.events import WebhookSinkSettings, webhook_secret_key
from connectors.errors import RateLimited, TransientError
from connectors.retry import retry_after_seconds
from sync.events.envelope import CONTENT_TYPE, structured
from sync.events.sink import EventUndeliverable, SinkUnavailable
from sync.events.webhook_signing import signed_headers
from sync.store.outbox import OutboxEvent

log = logging.getLogger("revbridge.events")


class _WaitRetryAfterOrBackoff(tenacity.wait.wait_base):
    """What a 429/503 asked for, else doubling from ``first``; never more than ``cap``.

    Not :mod:`connectors.retry`'s policy: its first wait is fixed, a webhook's is a setting.
    """

    def __init__(self, first: float, cap: float) -> None:
        self._backoff = tenacity.wait_exponential(multiplier=first, max=cap)
        self._cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, self._cap)
        return min(self._backoff(retry_state), self._cap)


def _never_connected(error: requests.RequestException) -> bool:
    """True when no request reached the endpoint (refused, unresolvable, connect timeout)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    cause = error.args[0] if error.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _worth_retrying(error: BaseException) -> bool:
    # An endpoint that can't be connected to is down: its events wait for the next drain.
    return isinstance(error, TransientError) and not isinstance(error, SinkUnavailable)


class WebhookSink:
    """POSTs events to one endpoint over one keep-alive session (run it in a worker thread)."""

    def __init__(self, settings: WebhookSinkSettings) -> None:
        """Decode the secrets once; :meth:`open` starts a drain."""
        self.settings = settings
        self._url = settings.url.get_secret_value()
        parts = urlsplit(self._url)
        self.endpoint = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._keys = [webhook_secret_key(s.get_secret_value()) for s in settings.secrets]
        self._session = requests.Session()
        self._deadline, self._started = 0.0, False
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_worth_retrying),
            stop=tenacity.stop_after_attempt(settings.attempts),
            wait=_WaitRetryAfterOrBackoff(settings.backoff_seconds, settings.max_wait_seconds),
            before_sleep=self._log_retry,
            reraise=True,
        )

    def open(self) -> None:
        """Start the drain's clock; the first POST connects."""
        self._deadline = time.monotonic() + self.settings.drain_seconds
        self._started = False

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()

    def send(self, event: OutboxEvent) -> None:
        """Deliver ``event``, retrying; dead-letter it (raise) once every attempt failed."""
        if self._started and time.monotonic() > self._deadline:
            # Retries of a failing endpoint add up; a drain must end for the next run's sake.
            limit = self.settings.drain_seconds
            raise SinkUnavailable(f"drain time of {limit:g}s used up", system=self.endpoint)
        self._started = True
        body = structured(event)
        try:
            self._retrying(self._post, event.event_id, body)
        except SinkUnavailable:
            raise
        except TransientError as error:
            raise EventUndeliverable(
                f"{self.settings.attempts} attempts failed, the last: {error.message}",
                system=self.endpoint,
                attempts=self.settings.attempts,
            ) from None

    def _post(self, webhook_id: str, body: bytes) -> None:
        headers = signed_headers(self._keys, webhook_id, int(time.time()), body)
        headers["content-type"] = CONTENT_TYPE
        timeout = self.settings.timeout_seconds
        try:
            response = self._session.post(
                self._url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except requests.RequestException as error:
            raise self._classify(error) from None
        with response:
            status = response.status_code
            if 200 <= status < 300:
                return
            if status in (429, 503):
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                raise RateLimited(f"HTTP {status}", system=self.endpoint, retry_after=wait)
            raise TransientError(f"HTTP {status}", system=self.endpoint)

    def _classify(self, error: requests.RequestException) -> TransientError:
        # Messages of our own: requests' would quote the URL, which may carry a token.
        if _never_connected(error):
            return SinkUnavailable("cannot connect to the endpoint", system=self.endpoint)
        if isinstance(error, requests.Timeout):
            limit = self.settings.timeout_seconds
            return TransientError(f"no answer within {limit:g}s", system=self.endpoint)
        return TransientError("the connection dropped before an answer", system=self.endpoint)

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        log.info(
            "webhook sink %s: attempt %d failed (%s); next in %.2fs",
            self.settings.name,
            retry_state.attempt_number,
            error,
            retry_state.upcoming_sleep,
        )
