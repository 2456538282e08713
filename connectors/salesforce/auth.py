"""Salesforce authentication: pick the auth mode, open a session, trust the configured CA.

revbridge logs in itself (:mod:`connectors.salesforce.login`) because simple-salesforce derives
login hosts from ``*.salesforce.com``, so it could never reach a My Domain URL or the loopback
sandbox; simple-salesforce then gets the resulting session id and instance URL.
"""

from __future__ import annotations

from typing import Any, Literal

import requests
from requests.adapters import HTTPAdapter

from config.settings import SalesforceSettings
from connectors.errors import ConfigError
from connectors.salesforce.login import (
    SYSTEM,
    SalesforceSession,
    client_credentials_login,
    jwt_login,
    password_login,
)

AuthMode = Literal["password", "jwt", "client_credentials", "session"]
__all__ = ["SYSTEM", "SalesforceSession", "auth_mode", "build_http_session", "can_log_in"]


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


def auth_mode(settings: SalesforceSettings) -> AuthMode:
    """The configured auth mode, or the one the given credentials imply."""
    if settings.auth is not None:
        return settings.auth
    has_key = settings.private_key is not None or settings.private_key_file is not None
    if has_key and settings.username and settings.client_id:
        return "jwt"
    if settings.username and settings.password and settings.client_id:
        return "password"
    if settings.session_id is not None and settings.instance_url:
        return "session"
    if settings.client_id and settings.client_secret is not None:
        return "client_credentials"
    raise ConfigError(
        "Salesforce needs one of: username + password + client_id (password flow); username + "
        "client_id + private_key (JWT bearer); client_id + client_secret (client credentials); "
        "session_id + instance_url. Set them under `salesforce:` in the config",
        system=SYSTEM,
    )


def can_log_in(settings: SalesforceSettings) -> bool:
    """True when the settings can open a fresh session (so an expired one can renew)."""
    return auth_mode(settings) != "session"


def open_session(http: requests.Session, settings: SalesforceSettings) -> SalesforceSession:
    """Log in with the configured flow, or use the configured session id and instance URL."""
    mode = auth_mode(settings)
    if mode == "password":
        return password_login(http, settings)
    if mode == "jwt":
        return jwt_login(http, settings)
    if mode == "client_credentials":
        return client_credentials_login(http, settings)
    if settings.session_id is None or not settings.instance_url:
        raise ConfigError(
            "salesforce.auth is `session` but session_id or instance_url is missing",
            system=SYSTEM,
        )
    return SalesforceSession(settings.session_id, settings.instance_url.rstrip("/"))
