"""billing.webhook_secrets: read from the environment, kept as secrets, masked everywhere."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from config.loader import ConfigInvalid, load_settings
from config.redaction import Redactor, secret_values
from config.settings import Settings

SECRET = "whsec_from_the_environment_81b2"
NEXT = "whsec_the_next_one_c40d"
CONFIG = """\
salesforce: {login_url: "https://login.salesforce.com", username: u, password: p, security_token: t}
billing:
  base_url: https://api.stripe.com
  profile: stripe
  api_key: sk_test_x
  webhook_secrets: ["${STRIPE_WEBHOOK_SECRET}", "${STRIPE_WEBHOOK_SECRET_NEXT}"]
erp:
  wsdl_url: https://example.invalid/wsdl
  account: "1"
  consumer_key: k
  consumer_secret: s
  token_id: i
  token_secret: z
"""


def _settings(tmp_path: Path) -> Settings:
    path = tmp_path / "revbridge.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    environ = {"STRIPE_WEBHOOK_SECRET": SECRET, "STRIPE_WEBHOOK_SECRET_NEXT": NEXT}
    return load_settings(path, environ)


def test_webhook_secrets_come_from_the_environment_as_secrets(tmp_path: Path) -> None:
    billing = _settings(tmp_path).billing

    assert [s.get_secret_value() for s in billing.webhook_secrets] == [SECRET, NEXT]
    assert billing.webhook_tolerance_seconds == 300
    assert SECRET not in repr(billing)
    assert SECRET not in billing.model_dump_json()


def test_webhook_secrets_are_masked_in_logs(tmp_path: Path) -> None:
    secrets = secret_values(_settings(tmp_path))
    assert {SECRET, NEXT} <= secrets
    redactor = Redactor(secrets)

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "got %s", (SECRET,), None)

    assert SECRET not in redactor.mask(record.getMessage())


def test_webhook_secrets_on_another_billing_api_are_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "revbridge.yaml"
    path.write_text(CONFIG.replace("profile: stripe", "profile: json"), encoding="utf-8")

    with pytest.raises(ConfigInvalid, match="webhook_secrets is for profile stripe"):
        load_settings(path, {"STRIPE_WEBHOOK_SECRET": SECRET, "STRIPE_WEBHOOK_SECRET_NEXT": NEXT})
