"""The OAuth 2.0 token flows revbridge runs against the configured login URL.

Username-password, JWT bearer (an RS256 assertion signed with the connected app's key) and
client credentials all post a form to ``/services/oauth2/token`` and get the same answer: an
access token and the org's instance URL. Errors name the URL and user, never a secret.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from pydantic import SecretStr

from config.settings import SalesforceSettings
from connectors.errors import AuthError, ConfigError, TransientError

SYSTEM = "salesforce"
LOGIN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts assertions that expire within 3 minutes.
_ASSERTION_SECONDS = 180


@dataclass(frozen=True)
class SalesforceSession:
    """A live API session: the access token (secret) and the org's instance URL."""

    access_token: SecretStr
    instance_url: str


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def password_login(http: requests.Session, settings: SalesforceSettings) -> SalesforceSession:
    """The OAuth 2.0 username-password flow (password + security token)."""
    form = {
        "grant_type": "password",
        "client_id": settings.client_id or "",
        "client_secret": _secret(settings.client_secret),
        "username": settings.username or "",
        "password": _secret(settings.password) + _secret(settings.security_token),
    }
    advice = "check the username, password, security token and connected app (id and secret)"
    return _token_request(http, settings, form, advice)


def _private_key(settings: SalesforceSettings) -> str:
    if settings.private_key is not None:
        return settings.private_key.get_secret_value()
    if settings.private_key_file is not None:
        try:
            return settings.private_key_file.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                f"salesforce.private_key_file {settings.private_key_file} can't be read: "
                f"{error.strerror}",
                system=SYSTEM,
            ) from None
    raise ConfigError("JWT bearer auth needs salesforce.private_key or private_key_file",
                      system=SYSTEM)  # fmt: skip


def jwt_assertion(settings: SalesforceSettings, now: float | None = None) -> str:
    """The signed JWT bearer assertion: iss = consumer key, sub = user, aud = login URL."""
    claims = {
        "iss": settings.client_id or "",
        "sub": settings.username or "",
        "aud": settings.login_url.rstrip("/"),
        "exp": int((now if now is not None else time.time()) + _ASSERTION_SECONDS),
    }
    try:
        return jwt.encode(claims, _private_key(settings), algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        # The key's text must never reach a message.
        raise ConfigError(
            "salesforce.private_key is not a PEM RSA private key", system=SYSTEM
        ) from None


def jwt_login(http: requests.Session, settings: SalesforceSettings) -> SalesforceSession:
    """The OAuth 2.0 JWT bearer flow: no password, a certificate on the connected app."""
    form = {"grant_type": JWT_GRANT, "assertion": jwt_assertion(settings)}
    advice = (
        "check the consumer key, that the user is pre-authorized for the connected app and "
        "that the app's certificate matches the private key"
    )
    return _token_request(http, settings, form, advice)


def client_credentials_login(
    http: requests.Session, settings: SalesforceSettings
) -> SalesforceSession:
    """The OAuth 2.0 client credentials flow (runs as the connected app's run-as user)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": settings.client_id or "",
        "client_secret": _secret(settings.client_secret),
    }
    advice = "check the consumer key and secret and the connected app's run-as user"
    return _token_request(http, settings, form, advice)


def _token_request(
    http: requests.Session, settings: SalesforceSettings, form: dict[str, str], advice: str
) -> SalesforceSession:
    url = settings.login_url.rstrip("/") + LOGIN_PATH
    try:
        response = http.post(url, data=form, timeout=settings.timeout_seconds)
    except requests.RequestException as error:
        # The form (with its secrets) is in the request body, never in the error text.
        raise TransientError(
            f"could not reach the Salesforce login at {url}: {type(error).__name__}",
            system=SYSTEM,
        ) from None
    if response.status_code >= 500:
        raise TransientError(
            f"Salesforce login at {url} answered HTTP {response.status_code}", system=SYSTEM
        )
    body = _json_or_empty(response)
    if response.status_code != 200 or "access_token" not in body:
        reason = f"{body.get('error', 'HTTP ' + str(response.status_code))}"
        description = body.get("error_description", "")
        who = f"user {settings.username!r}" if settings.username else "the connected app"
        raise AuthError(
            f"Salesforce refused the {form['grant_type']} login of {who} at {url}: "
            f"{reason} ({description}); {advice}",
            system=SYSTEM,
        )
    return SalesforceSession(SecretStr(body["access_token"]), str(body["instance_url"]))


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
