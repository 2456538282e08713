"""HTTP to a billing API: one session, auth, timeouts, the shared retry policy, error classes.

Answers come back as ``requests.Response`` when they are 2xx or a record-level 4xx (the profile
turns those into per-record rejections); every other failure is raised as a
:mod:`connectors.errors` class, after the retry policy had its go at transient ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from config.settings import BillingSettings, RetrySettings
from connectors.billing.auth import Clock, OAuthClientCredentials, build_auth, secrets_of
from connectors.errors import AuthError, ConfigError, RateLimited, TransientError
from connectors.retry import Sleep, retry_after_seconds, retry_policy

SYSTEM = "billing"
_TRANSIENT_STATUSES = frozenset({408, 409, 425})

Params = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP call to the billing API, described as data (path is below ``base_url``).

    ``url`` replaces ``base_url + path`` for absolute next-page links (``Link`` header paging).
    """

    method: str
    path: str
    params: Params = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"
    idempotency_key: str | None = None
    url: str | None = None


class CountingAdapter(HTTPAdapter):
    """An adapter that counts the requests it sends: each is one API call, whatever came back
    (an answer, an error, a timeout or a lost reply). A request that never left (its auth
    failed first) is not counted."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lock = threading.Lock()
        self.sent = 0

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        """Count the request, then send it."""
        with self._lock:
            self.sent += 1
        return super().send(request, *args, **kwargs)


def _mount(session: requests.Session, adapter: HTTPAdapter) -> None:
    session.mount("http://", adapter)
    session.mount("https://", adapter)


def api_error(response: requests.Response) -> dict[str, Any]:
    """The ``error`` object of a Stripe-shaped error body, or ``{}`` when there is none."""
    try:
        detail = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return detail if isinstance(detail, dict) else {}


class BillingHttpClient:
    """HTTP to the billing API: one session, auth, timeouts, retries, error classes."""

    def __init__(
        self,
        settings: BillingSettings,
        retry: RetrySettings,
        *,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._base_url = settings.base_url.rstrip("/")
        self._timeout = settings.timeout_seconds
        self._secrets = secrets_of(settings)
        self._idempotency_header = settings.idempotency_header
        self._session = requests.Session()
        # Up to max_concurrency writes share the session; each needs a pooled connection.
        self._api_adapter = CountingAdapter(pool_maxsize=max(10, settings.max_concurrency))
        _mount(self._session, self._api_adapter)
        self._token_session = requests.Session()
        self._token_adapter = CountingAdapter()
        _mount(self._token_session, self._token_adapter)
        self._auth = build_auth(settings, self._token_session, clock=clock)
        self._session.auth = self._auth
        self._session.headers["Accept"] = "application/json"
        # Passed on every call: a session-level verify loses to REQUESTS_CA_BUNDLE in requests.
        self._verify: str | bool = str(settings.ca_bundle) if settings.ca_bundle else True
        self._sleep = sleep or time.sleep
        self._retrying = retry_policy(retry, sleep=self._record_and_sleep)
        self.last_wait_seconds: float | None = None

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent to the API so far, retries included (from every writer thread)."""
        return self._api_adapter.sent

    @property
    def api_calls(self) -> int:
        """Requests sent so far: API requests with their retries, plus OAuth token requests."""
        return self._api_adapter.sent + self._token_adapter.sent

    @property
    def base_url(self) -> str:
        """The API's base URL without a trailing slash."""
        return self._base_url

    def send(self, request: ApiRequest, *, missing_ok: bool = False) -> requests.Response:
        """Send with retries; return 2xx and record-level 4xx answers, raise everything else.

        ``missing_ok`` returns a 404 too: for a request about one record, a missing record is
        that record's problem, not a wrong base URL.
        """
        # Safe from concurrent writers: tenacity keeps each call's attempt state apart.
        return self._retrying(self._send_once, request, missing_ok)

    def close(self) -> None:
        """Close the sessions' pooled connections."""
        self._session.close()
        self._token_session.close()

    def _record_and_sleep(self, seconds: float) -> None:
        self.last_wait_seconds = seconds
        self._sleep(seconds)

    def _send_once(self, request: ApiRequest, missing_ok: bool) -> requests.Response:
        headers = {"Content-Type": request.content_type} if request.body is not None else {}
        if request.idempotency_key is not None:
            headers[self._idempotency_header] = request.idempotency_key
        url = request.url or self._base_url + request.path
        where = f"{request.method} {url.split('?', 1)[0]}"
        try:
            response = self._session.request(
                request.method,
                url,
                params=request.params if request.url is None else None,
                data=request.body,
                headers=headers,
                timeout=self._timeout,
                verify=self._verify,
            )
        except requests.exceptions.SSLError as error:
            message = f"TLS verification failed for {where}; set billing.ca_bundle? ({error})"
            raise ConfigError(self._redact(message), system=SYSTEM) from error
        except (requests.Timeout, requests.ConnectionError) as error:
            message = f"{where} failed: {type(error).__name__}: {error}"
            raise TransientError(self._redact(message), system=SYSTEM) from error
        except requests.RequestException as error:
            message = f"{where} is not a usable request: {error}; check billing.base_url"
            raise ConfigError(self._redact(message), system=SYSTEM) from error
        self._classify(response, where, missing_ok)
        return response

    def _classify(self, response: requests.Response, where: str, missing_ok: bool) -> None:
        status = response.status_code
        if status < 400 or (status == 404 and missing_ok):
            return
        said = self._redact(str(api_error(response).get("message", "")))
        message = f"{where} answered HTTP {status}: {said}"
        if status == 401 and isinstance(self._auth, OAuthClientCredentials):
            # The token may have been revoked early: fetch a new one and try again once.
            self._auth.invalidate()
            raise TransientError(f"{message} (token refused; fetching a new one)", system=SYSTEM)
        if status == 401:
            hint = "the credentials were refused; check billing.api_key or billing.auth"
            raise AuthError(f"{message} ({hint})", system=SYSTEM)
        if status == 403:
            # Authenticated, but not allowed: a restricted key lacking this resource's permission.
            hint = "the key may not do this; give it the permission or use another key"
            raise AuthError(f"{message} ({hint})", system=SYSTEM)
        if status == 404:
            hint = "no such collection; check the mapping's target object and billing.base_url"
            raise ConfigError(f"{message} ({hint})", system=SYSTEM)
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise RateLimited(message, system=SYSTEM, retry_after=retry_after)
        if status >= 500 or status in _TRANSIENT_STATUSES:
            raise TransientError(message, system=SYSTEM)

    def _redact(self, text: str) -> str:
        # Some APIs echo the key they refused; never let it reach a message or a log.
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
