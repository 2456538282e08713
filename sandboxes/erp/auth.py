"""How the ERP sandbox checks credentials: a signed ``tokenPassport`` or a user ``passport``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field

from lxml import etree  # type: ignore[import-untyped]

from sandboxes.erp.render import MESSAGES, SoapFault

# NetSuite refuses passports whose timestamp is too far from its clock.
PASSPORT_MAX_SKEW_SECONDS = 300


@dataclass(frozen=True)
class ErpCredentials:
    """The token-based-authentication values and the user login the sandbox accepts."""

    account: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    token_id: str
    token_secret: str = field(repr=False)
    email: str = "integration@example.com"
    password: str = field(default="", repr=False)


class PassportCheck:
    """Verifies each call's credentials and remembers token nonces (NetSuite refuses replays)."""

    def __init__(self, credentials: ErpCredentials) -> None:
        self.credentials = credentials
        self._lock = threading.Lock()
        self._seen_nonces: set[tuple[str, str]] = set()

    def verify(self, header: etree._Element | None) -> None:
        """Raise the SuiteTalk fault NetSuite answers unless ``header`` authenticates."""
        token = None if header is None else header.find(f"{{{MESSAGES}}}tokenPassport")
        user = None if header is None else header.find(f"{{{MESSAGES}}}passport")
        if token is None and user is None:
            raise SoapFault(
                "invalidSessionFault", "WS_LOG_IN_REQD", "A token passport is required."
            )
        valid = self._token_is_valid(token) if token is not None else self._user_is_valid(user)
        if not valid:
            raise SoapFault(
                "invalidCredentialsFault", "INVALID_LOGIN_CREDENTIALS", "Invalid login attempt."
            )

    def _user_is_valid(self, passport: etree._Element) -> bool:
        text = {etree.QName(child).localname: (child.text or "").strip() for child in passport}
        creds = self.credentials
        if not creds.password or (text.get("email"), text.get("account")) != (
            creds.email,
            creds.account,
        ):
            return False
        return hmac.compare_digest(text.get("password", ""), creds.password)

    def _token_is_valid(self, passport: etree._Element) -> bool:
        values = {etree.QName(child).localname: child for child in passport}
        text = {name: (element.text or "").strip() for name, element in values.items()}
        signature = values.get("signature")
        creds = self.credentials
        if signature is None or signature.get("algorithm") != "HMAC-SHA256":
            return False
        if (text.get("account"), text.get("consumerKey"), text.get("token")) != (
            creds.account,
            creds.consumer_key,
            creds.token_id,
        ):
            return False
        nonce, timestamp = text.get("nonce", ""), text.get("timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > PASSPORT_MAX_SKEW_SECONDS:
            return False
        base = f"{creds.account}&{creds.consumer_key}&{creds.token_id}&{nonce}&{timestamp}"
        key = f"{creds.consumer_secret}&{creds.token_secret}".encode()
        expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, text.get("signature", "")):
            return False
        with self._lock:
            if (nonce, timestamp) in self._seen_nonces:
                return False
            self._seen_nonces.add((nonce, timestamp))
        return True
