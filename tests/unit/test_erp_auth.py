"""Token passport signing for NetSuite token-based authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import SecretStr

from config.settings import ErpSettings
from connectors.erp_auth import SIGNATURE_ALGORITHM, new_token_passport, sign_passport

MARKER_SECRET = "MARKER-SECRET-d41d8cd98f"


def _settings() -> ErpSettings:
    return ErpSettings(
        wsdl_url="http://127.0.0.1:1/wsdl",
        account="TSTDRV1234567",
        consumer_key="ck",
        consumer_secret=SecretStr(MARKER_SECRET),
        token_id="tid",
        token_secret=SecretStr("token-" + MARKER_SECRET),
    )


def test_signature_is_base64_hmac_sha256_of_the_passport_fields_keyed_by_both_secrets() -> None:
    expected = base64.b64encode(
        hmac.new(
            f"{MARKER_SECRET}&token-{MARKER_SECRET}".encode(),
            b"TSTDRV1234567&ck&tid&abc123&1767607200",
            hashlib.sha256,
        ).digest()
    ).decode()

    passport = new_token_passport(_settings(), clock=lambda: 1767607200.9, nonce="abc123")

    assert passport.signature == expected
    assert passport.timestamp == 1767607200


def test_signature_changes_when_any_secret_changes() -> None:
    def sign(token_secret: str) -> str:
        return sign_passport(
            account="A",
            consumer_key="ck",
            token_id="t",
            nonce="n",
            timestamp=1,
            consumer_secret=SecretStr("a"),
            token_secret=SecretStr(token_secret),
        )

    one, other = sign("b"), sign("c")

    assert one != other


def test_each_passport_gets_a_fresh_nonce() -> None:
    settings = _settings()

    nonces = {new_token_passport(settings).nonce for _ in range(20)}

    assert len(nonces) == 20
    assert all(len(nonce) >= 6 and nonce.isalnum() for nonce in nonces)


def test_passport_header_and_repr_never_carry_the_secrets() -> None:
    passport = new_token_passport(_settings())

    header = passport.to_header()

    assert header["signature"]["algorithm"] == SIGNATURE_ALGORITHM
    assert MARKER_SECRET not in repr(passport)
    assert MARKER_SECRET not in repr(header)
