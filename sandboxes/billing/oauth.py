"""The billing sandbox's credentials: API key (bearer or basic) and an OAuth 2.0 token endpoint.

``POST /oauth/token`` implements the client credentials grant (client id and secret by HTTP
basic auth or in the form) and issues bearer tokens that expire after ``token_lifetime``
seconds of the sandbox's clock, which tests may replace to expire tokens without waiting.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from sandboxes.billing.rules import ApiError

Clock = Callable[[], float]


def _unauthorised(message: str) -> ApiError:
    return ApiError(401, "invalid_api_key", "", message, "authentication_error")


@dataclass
class SandboxCredentials:
    """What the sandbox accepts, and the tokens it has issued."""

    api_key: str
    client_id: str = "revbridge-sandbox-client"
    client_secret: str = field(default_factory=lambda: "cs_" + secrets.token_hex(12))
    token_lifetime: float = 3600.0
    clock: Clock = time.monotonic
    tokens_issued: int = 0
    _tokens: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget issued tokens and counts; back to the real clock and a one-hour lifetime."""
        self._tokens.clear()
        self.tokens_issued = 0
        self.clock = time.monotonic
        self.token_lifetime = 3600.0

    def expire_tokens(self) -> None:
        """Revoke every issued token (the next API call with one gets 401)."""
        self._tokens.clear()

    def authenticate(self, headers: Mapping[str, str]) -> None:
        """Accept ``Bearer <api key>``, ``Basic <api key>:``, or a live OAuth token."""
        header = headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            user = _basic_user_password(value)[0]
            if hmac.compare_digest(user.encode(), self.api_key.encode()):
                return
        elif scheme.lower() == "bearer":
            if hmac.compare_digest(value.encode(), self.api_key.encode()):
                return
            expires = self._tokens.get(value)
            if expires is not None and self.clock() < expires:
                return
        raise _unauthorised("Invalid API Key provided")

    def issue_token(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Answer a client credentials grant, or raise ApiError like an OAuth server."""
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported_grant_type", "grant_type", "client_credentials only")
        scheme, _, value = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, secret = _basic_user_password(value.strip())
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        ok_id = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        ok_secret = hmac.compare_digest(secret.encode(), self.client_secret.encode())
        if not (ok_id and ok_secret):
            raise ApiError(401, "invalid_client", "", "client authentication failed")
        token = "at_" + secrets.token_hex(16)
        self._tokens[token] = self.clock() + self.token_lifetime
        self.tokens_issued += 1
        lifetime = int(self.token_lifetime)
        return {"access_token": token, "token_type": "bearer", "expires_in": lifetime}


def _basic_user_password(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password
