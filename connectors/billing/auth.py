"""Billing API authentication: an API key (bearer or basic) or OAuth 2.0 client credentials.

Each is a ``requests.auth.AuthBase`` set on the session, so every request (retries included)
carries fresh credentials. The OAuth flavour fetches a token on first use and again
``token_refresh_margin_seconds`` before it expires, so a long run never sends an expired one;
a 401 mid-run makes the HTTP client call :meth:`OAuthClientCredentials.invalidate` once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from config.settings import BillingSettings
from connectors.errors import AuthError, ConfigError, TransientError

Clock = Callable[[], float]
SYSTEM = "billing"


class BearerKey(AuthBase):
    """``Authorization: Bearer <api key>``."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        return request


class OAuthClientCredentials(AuthBase):
    """OAuth 2.0 client credentials grant with refresh before expiry (thread-safe)."""

    def __init__(
        self,
        settings: BillingSettings,
        session: requests.Session,
        *,
        clock: Clock | None = None,
    ) -> None:
        if settings.token_url is None or settings.client_id is None:
            raise ConfigError("OAuth needs billing.token_url and billing.client_id", system=SYSTEM)
        if settings.client_secret is None:
            raise ConfigError("OAuth needs billing.client_secret", system=SYSTEM)
        self._token_url = settings.token_url
        self._client_id = settings.client_id
        self._client_secret = settings.client_secret
        self._scope = settings.scope
        self._margin = settings.token_refresh_margin_seconds
        self._timeout = settings.timeout_seconds
        self._verify: str | bool = str(settings.ca_bundle) if settings.ca_bundle else True
        # The token call goes through its own session: the API session's auth is this object.
        self._session = session
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def token(self) -> str:
        """A token valid for at least the refresh margin, fetched when needed."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._margin:
                self._token, lifetime = self._fetch()
                self._expires_at = self._clock() + lifetime
                self.tokens_fetched += 1
            return self._token

    def invalidate(self) -> None:
        """Forget the token (the API refused it), so the next request fetches a new one."""
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        secret = self._client_secret.get_secret_value()
        try:
            response = self._session.post(
                self._token_url,
                data=form,
                auth=HTTPBasicAuth(self._client_id, secret),
                timeout=self._timeout,
                verify=self._verify,
            )
        except (requests.Timeout, requests.ConnectionError) as error:
            message = f"token request to {self._token_url} failed: {type(error).__name__}"
            raise TransientError(message, system=SYSTEM) from error
        if response.status_code in (400, 401, 403):
            hint = "check billing.client_id and billing.client_secret"
            message = f"{self._token_url} refused the client credentials (HTTP "
            raise AuthError(f"{message}{response.status_code}); {hint}", system=SYSTEM)
        if response.status_code >= 300:
            message = f"{self._token_url} answered HTTP {response.status_code}"
            raise TransientError(message, system=SYSTEM)
        return _token_of(response, self._token_url)


def _token_of(response: requests.Response, token_url: str) -> tuple[str, float]:
    try:
        body = response.json()
        token, lifetime = str(body["access_token"]), float(body.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError, AttributeError):
        message = f"{token_url} did not answer an OAuth token; check billing.token_url"
        raise ConfigError(message, system=SYSTEM) from None
    return token, lifetime


def build_auth(
    settings: BillingSettings, token_session: requests.Session, *, clock: Clock | None = None
) -> AuthBase:
    """The ``requests`` auth object for ``settings.auth``."""
    if settings.auth == "oauth_client_credentials":
        return OAuthClientCredentials(settings, token_session, clock=clock)
    if settings.api_key is None:
        raise ConfigError(f"billing.auth {settings.auth} needs billing.api_key", system=SYSTEM)
    key = settings.api_key.get_secret_value()
    if settings.auth == "basic":
        # Stripe's convention: the key is the user name and the password is empty.
        return HTTPBasicAuth(key, "")
    return BearerKey(key)


def secrets_of(settings: BillingSettings) -> tuple[str, ...]:
    """Every secret value in ``settings``, to redact from messages."""
    values = (settings.api_key, settings.client_secret)
    return tuple(value.get_secret_value() for value in values if value is not None)
