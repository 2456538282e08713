"""Token passport signing for NetSuite token-based authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from config.settings import ErpSettings
from connectors.erp.auth import (
    SIGNATURE_ALGORITHM,
    new_token_passport,
    sign_passport,
    user_passport,
)

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


def test_a_user_passport_header_has_suitetalks_shape_and_role() -> None:
    settings = ErpSettings(
        wsdl_url="http://127.0.0.1:1/wsdl",
        account="TSTDRV1234567",
        auth="password",
        email="sync@example.com",
        password=SecretStr(MARKER_SECRET),
        role="3",
    )

    passport = user_passport(settings, "2023_2")

    core = "urn:core_2023_2.platform.webservices.netsuite.com"
    assert passport.tag == "{urn:messages_2023_2.platform.webservices.netsuite.com}passport"
    assert [child.tag.split("}")[1] for child in passport] == [
        "email",
        "password",
        "account",
        "role",
    ]
    assert passport.findtext(f"{{{core}}}password") == MARKER_SECRET
    assert passport.find(f"{{{core}}}role").get("internalId") == "3"
    assert MARKER_SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"consumer_key": "ck", "token_id": "t", "token_secret": "s"}, "auth token needs"),
        ({"auth": "password", "email": "a@b.c"}, "auth password needs"),
        ({"auth": "oauth"}, "auth"),
        ({"operations": {"upsert": "upsertList", "purge": "deleteList"}}, "unknown ERP operations"),
    ],
)
def test_invalid_erp_settings_are_refused_with_the_reason(
    values: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        ErpSettings.model_validate({"wsdl_url": "x", "account": "a", **values})


def test_operations_named_in_config_override_only_the_ones_given() -> None:
    settings = _settings().model_copy()
    configured = ErpSettings.model_validate(
        {
            **settings.model_dump(),
            "consumer_secret": "c",
            "token_secret": "t",
            "operations": {"search": "searchMore"},
        }
    )

    assert configured.operations["search"] == "searchMore"
    assert configured.operations["upsert"] == "upsertList"
