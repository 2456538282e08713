"""NetSuite authentication headers: the signed ``tokenPassport``, or a user ``passport``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from pydantic import SecretStr

from config.settings import ErpSettings

SIGNATURE_ALGORITHM = "HMAC-SHA256"


def sign_passport(
    *,
    account: str,
    consumer_key: str,
    token_id: str,
    nonce: str,
    timestamp: int,
    consumer_secret: SecretStr,
    token_secret: SecretStr,
) -> str:
    """Return SuiteTalk's base64 HMAC-SHA256 signature of one passport."""
    base_string = f"{account}&{consumer_key}&{token_id}&{nonce}&{timestamp}"
    key = f"{consumer_secret.get_secret_value()}&{token_secret.get_secret_value()}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class TokenPassport:
    """One signed passport; NetSuite refuses a (nonce, timestamp) pair it has seen before."""

    account: str
    consumer_key: str
    token: str
    nonce: str
    timestamp: int
    signature: str

    def to_header(self) -> dict[str, Any]:
        """Return the ``tokenPassport`` header value as zeep takes it."""
        return {
            "account": self.account,
            "consumerKey": self.consumer_key,
            "token": self.token,
            "nonce": self.nonce,
            "timestamp": self.timestamp,
            "signature": {"_value_1": self.signature, "algorithm": SIGNATURE_ALGORITHM},
        }


def new_token_passport(
    settings: ErpSettings,
    *,
    clock: Callable[[], float] = time.time,
    nonce: str | None = None,
) -> TokenPassport:
    """Sign a fresh passport for one call (a new nonce and the current time)."""
    # NetSuite wants an alphanumeric nonce of at least six characters.
    nonce = nonce if nonce is not None else secrets.token_hex(16)
    timestamp = int(clock())
    signature = sign_passport(
        account=settings.account,
        consumer_key=settings.consumer_key,
        token_id=settings.token_id,
        nonce=nonce,
        timestamp=timestamp,
        consumer_secret=settings.consumer_secret,
        token_secret=settings.token_secret,
    )
    return TokenPassport(
        account=settings.account,
        consumer_key=settings.consumer_key,
        token=settings.token_id,
        nonce=nonce,
        timestamp=timestamp,
        signature=signature,
    )


def user_passport(settings: ErpSettings, version: str) -> etree._Element:
    """The ``passport`` header of user credentials (email, password, account, optional role).

    NetSuite takes it on endpoints before 2020.2 (later ones need token-based auth); the
    2023.2 WSDL no longer declares it, so it is built as raw XML in SuiteTalk's shape.
    """
    messages = f"urn:messages_{version}.platform.webservices.netsuite.com"
    core = f"urn:core_{version}.platform.webservices.netsuite.com"
    passport = etree.Element(
        f"{{{messages}}}passport", nsmap={"platformMsgs": messages, "platformCore": core}
    )
    etree.SubElement(passport, f"{{{core}}}email").text = settings.email
    etree.SubElement(passport, f"{{{core}}}password").text = settings.password.get_secret_value()
    etree.SubElement(passport, f"{{{core}}}account").text = settings.account
    if settings.role:
        etree.SubElement(passport, f"{{{core}}}role", internalId=settings.role)
    return passport
