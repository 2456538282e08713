"""Every Salesforce auth mode over the wire against the sandbox's token endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from config.settings import RetrySettings
from connectors.errors import AuthError, ConfigError
from connectors.salesforce.connector import SalesforceConnector
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings

MARKER = "marker-S3cr3t-do-not-leak"


def _no_sleep(seconds: float) -> None:
    """Retries in these tests never really wait."""


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return _key_pair()


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=3, orders=2, products=2) as started:
        yield started


def _jwt_settings(private_key: str) -> dict[str, object]:
    return {
        "password": None,
        "security_token": None,
        "client_secret": None,
        "private_key": SecretStr(private_key),
    }


def test_jwt_bearer_logs_in_with_the_registered_certificate(
    sandbox: SalesforceSandbox, keys: tuple[str, str]
) -> None:
    private, public = keys
    sandbox.register_jwt_certificate(public)
    settings = salesforce_settings(sandbox, **_jwt_settings(private))
    connector = SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep)
    connector.check()
    assert sandbox.logins == 1
    assert "BEGIN" not in repr(settings)
    assert "BEGIN" not in repr(connector)


def test_jwt_signed_by_an_unregistered_key_is_an_auth_error_without_the_key(
    sandbox: SalesforceSandbox, keys: tuple[str, str]
) -> None:
    sandbox.register_jwt_certificate(keys[1])
    other_private, _ = _key_pair()
    settings = salesforce_settings(sandbox, **_jwt_settings(other_private))
    with pytest.raises(AuthError, match="invalid_grant") as raised:
        SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep).check()
    assert "PRIVATE KEY" not in str(raised.value)


def test_jwt_private_key_that_is_not_a_key_is_a_config_error_without_its_text(
    sandbox: SalesforceSandbox,
) -> None:
    settings = salesforce_settings(sandbox, **_jwt_settings(MARKER))
    with pytest.raises(ConfigError) as raised:
        SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep).check()
    assert MARKER not in f"{raised.value} {raised.value!r}"


def test_jwt_session_expiry_logs_in_again_once(
    sandbox: SalesforceSandbox, keys: tuple[str, str]
) -> None:
    private, public = keys
    sandbox.register_jwt_certificate(public)
    settings = salesforce_settings(sandbox, **_jwt_settings(private))
    connector = SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep)
    connector.check()
    sandbox.expire_sessions()
    connector.check()
    assert sandbox.logins == 2


def test_client_credentials_flow_logs_in_with_the_app_secret(sandbox: SalesforceSandbox) -> None:
    settings = salesforce_settings(sandbox, auth="client_credentials", username=None, password=None)
    connector = SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep)
    connector.check()
    assert sandbox.logins == 1


def test_client_credentials_with_a_wrong_secret_is_an_auth_error_without_the_secret(
    sandbox: SalesforceSandbox,
) -> None:
    settings = salesforce_settings(
        sandbox,
        auth="client_credentials",
        username=None,
        password=None,
        client_secret=SecretStr(MARKER),
    )
    with pytest.raises(AuthError, match="invalid_client") as raised:
        SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep).check()
    assert MARKER not in f"{raised.value} {raised.value!r}"


def test_session_id_and_instance_url_skip_the_login(sandbox: SalesforceSandbox) -> None:
    first = SalesforceConnector(salesforce_settings(sandbox), RetrySettings(), sleep=_no_sleep)
    first.check()
    token = first._session_client().session_id
    settings = salesforce_settings(
        sandbox, username=None, password=None, session_id=SecretStr(token), instance_url=sandbox.url
    )
    SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep).check()
    assert sandbox.logins == 1
    assert token not in repr(settings)


def test_missing_credentials_name_every_auth_mode(sandbox: SalesforceSandbox) -> None:
    settings = salesforce_settings(sandbox, username=None, password=None, client_id=None)
    with pytest.raises(ConfigError, match="JWT bearer"):
        SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep).check()
