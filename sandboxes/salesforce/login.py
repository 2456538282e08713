"""The sandbox org's OAuth 2.0 token endpoint: password, JWT bearer and client credentials.

JWT assertions are verified like Salesforce does: RS256 signature against the certificate
registered on the connected app, ``iss`` = consumer key, ``sub`` = a known user, ``aud`` = the
login URL, and an ``exp`` in the future.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG_ID = "00D5g000004RbSBEAY"
USER_ID = "0055g00000RbUSRAA2"
LoginAnswer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class SandboxCredentials:
    """The sandbox org's login; the secrets stay out of ``repr``."""

    username: str
    password: str = field(repr=False)
    security_token: str = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)


def _oauth_error(error: str, description: str) -> LoginAnswer:
    return 400, {"error": error, "error_description": description}


class SandboxLogin:
    """Issues and checks access tokens; every public method is thread-safe."""

    def __init__(self, credentials: SandboxCredentials, clock_millis: Callable[[], int]) -> None:
        self.credentials = credentials
        self.instance_url = ""
        self._clock_millis = clock_millis
        self._lock = threading.Lock()
        self._sessions: set[str] = set()
        self._jwt_keys: list[str] = []
        self.logins = 0

    def register_jwt_certificate(self, public_key_pem: str) -> None:
        """Trust JWT assertions signed by the matching private key (the connected app's cert)."""
        with self._lock:
            self._jwt_keys.append(public_key_pem)

    def token(self, form: dict[str, str]) -> LoginAnswer:
        """Answer one ``POST /services/oauth2/token``."""
        grant = form.get("grant_type")
        if grant == "password":
            return self._password(form)
        if grant == JWT_GRANT:
            return self._jwt(form.get("assertion", ""))
        if grant == "client_credentials":
            return self._client_credentials(form)
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _client_ok(self, form: dict[str, str]) -> LoginAnswer | None:
        creds = self.credentials
        if form.get("client_id") != creds.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(form.get("client_secret", ""), creds.client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        return None

    def _password(self, form: dict[str, str]) -> LoginAnswer:
        creds = self.credentials
        refused = self._client_ok(form)
        if refused:
            return refused
        password = creds.password + creds.security_token
        if form.get("username") != creds.username or not hmac.compare_digest(
            form.get("password", ""), password
        ):
            return _oauth_error("invalid_grant", "authentication failure")
        return self._issue()

    def _client_credentials(self, form: dict[str, str]) -> LoginAnswer:
        return self._client_ok(form) or self._issue()

    def _jwt(self, assertion: str) -> LoginAnswer:
        with self._lock:
            keys = list(self._jwt_keys)
        for key in keys:
            try:
                claims = jwt.decode(
                    assertion, key, algorithms=["RS256"], audience=self.instance_url,
                    options={"require": ["exp"]},
                )  # fmt: skip
            except jwt.ExpiredSignatureError:
                return _oauth_error("invalid_grant", "expired authorization code")
            except jwt.InvalidAudienceError:
                return _oauth_error("invalid_grant", "audience is invalid")
            except jwt.PyJWTError:
                continue
            if claims.get("iss") != self.credentials.client_id:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if claims.get("sub") != self.credentials.username:
                return _oauth_error("invalid_grant", "user hasn't approved this consumer")
            return self._issue()
        return _oauth_error("invalid_grant", "invalid assertion")

    def _issue(self) -> LoginAnswer:
        with self._lock:
            token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(40)}"
            self._sessions.add(token)
            self.logins += 1
        identity = f"{self.instance_url}/id/{ORG_ID}/{USER_ID}"
        issued_at = str(self._clock_millis())
        digest = hmac.new(self.credentials.client_secret.encode(),
                          (identity + issued_at).encode(), hashlib.sha256)  # fmt: skip
        return 200, {
            "access_token": token, "instance_url": self.instance_url, "id": identity,
            "token_type": "Bearer", "issued_at": issued_at,
            "signature": base64.b64encode(digest.digest()).decode(),
        }  # fmt: skip

    def session_valid(self, authorization: str | None) -> bool:
        """True when the header carries a live access token."""
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            return scheme.lower() in ("bearer", "oauth") and token in self._sessions

    def expire_sessions(self) -> None:
        """Invalidate every access token, as a session timeout would."""
        with self._lock:
            self._sessions.clear()
