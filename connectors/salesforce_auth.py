"""Salesforce authentication: the OAuth 2.0 username-password flow, or an existing session.

revbridge logs in itself because simple-salesforce derives login hosts from
``*.salesforce.com``, so it could never reach a My Domain URL or the loopback sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter

from config.settings import SalesforceSettings
from connectors.errors import AuthError, ConfigError, TransientError

SYSTEM = "salesforce"
LOGIN_PATH = "/services/oauth2/token"


@dataclass(frozen=True)
class SalesforceSession:
    """A live API session: the access token (secret) and the org's instance URL."""

    access_token: SecretStr
    instance_url: str


class _TrustCaAdapter(HTTPAdapter):
    """Verify TLS against one CA bundle on every request.

    ``requests`` lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override ``Session.verify``, so a
    configured bundle is enforced here, at the transport, where the environment cannot win.
    """

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self._ca_bundle = ca_bundle

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send with ``verify`` pinned to the configured bundle."""
        kwargs["verify"] = self._ca_bundle
        return super().send(request, **kwargs)


def build_http_session(settings: SalesforceSettings) -> requests.Session:
    """A ``requests.Session`` trusting ``settings.ca_bundle`` when one is set."""
    http = requests.Session()
    if settings.ca_bundle is not None:
        if not settings.ca_bundle.is_file():
            raise ConfigError(
                f"salesforce.ca_bundle {settings.ca_bundle} is not a file; point it at a PEM "
                "file of the CA to trust",
                system=SYSTEM,
            )
        http.verify = str(settings.ca_bundle)
        http.mount("https://", _TrustCaAdapter(str(settings.ca_bundle)))
    return http


def can_log_in(settings: SalesforceSettings) -> bool:
    """True when the settings hold username-password credentials (so a session can renew)."""
    return bool(settings.username and settings.password and settings.client_id)


def open_session(http: requests.Session, settings: SalesforceSettings) -> SalesforceSession:
    """Log in with the password flow, or use the configured session id and instance URL."""
    if can_log_in(settings):
        return password_login(http, settings)
    if settings.session_id is not None and settings.instance_url:
        return SalesforceSession(settings.session_id, settings.instance_url.rstrip("/"))
    raise ConfigError(
        "Salesforce needs username, password and client_id (OAuth username-password flow) "
        "or session_id and instance_url; set them under `salesforce:` in the config",
        system=SYSTEM,
    )


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def password_login(http: requests.Session, settings: SalesforceSettings) -> SalesforceSession:
    """The OAuth 2.0 username-password flow; AuthError names the URL and user, never secrets."""
    url = settings.login_url.rstrip("/") + LOGIN_PATH
    form = {
        "grant_type": "password",
        "client_id": settings.client_id or "",
        "client_secret": _secret(settings.client_secret),
        "username": settings.username or "",
        "password": _secret(settings.password) + _secret(settings.security_token),
    }
    try:
        response = http.post(url, data=form, timeout=settings.timeout_seconds)
    except requests.RequestException as error:
        # The form (with the password) is in the request body, never in the error text.
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
        raise AuthError(
            f"Salesforce refused the login of user {settings.username!r} at {url}: "
            f"{reason} ({description}); check the username, password, security token and "
            "connected app (client id and secret)",
            system=SYSTEM,
        )
    return SalesforceSession(SecretStr(body["access_token"]), str(body["instance_url"]))


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
