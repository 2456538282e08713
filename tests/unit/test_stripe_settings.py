"""The Stripe profile's settings: billing.lookup and billing.days_until_due, and their typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigInvalid, load_settings
from connectors.billing.connector import profile_for
from tests.unit.test_config_loader import MINIMAL, SECRETS

STRIPE = MINIMAL.replace(
    "  base_url: https://billing.example.com\n",
    "  base_url: https://billing.example.com\n  profile: stripe\n",
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "revbridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path, environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigInvalid) as caught:
        load_settings(path, environ)
    return [str(problem) for problem in caught.value.problems]


def test_lookup_defaults_to_auto_and_payment_terms_to_thirty_days(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, STRIPE), SECRETS)

    assert (settings.billing.lookup, settings.billing.days_until_due) == ("auto", 30)


@pytest.mark.parametrize("mode", ["auto", "search", "list", "none"])
def test_each_lookup_mode_loads(tmp_path: Path, mode: str) -> None:
    text = STRIPE.replace("  profile: stripe\n", f"  profile: stripe\n  lookup: {mode}\n")

    settings = load_settings(_write(tmp_path, text), SECRETS)

    assert settings.billing.lookup == mode
    profile_for(settings.billing)  # and the connector's profile takes it


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  lookup: serach\n", ":8:11: billing.lookup: Input should be 'auto', 'search', 'list'"),
        ("  lookup: 3\n", ":8:11: billing.lookup: Input should be 'auto'"),
        ("  days_until_due: -1\n", ":8:19: billing.days_until_due: Input should be greater"),
        ("  days_until_due: 30 days\n", ":8:19: billing.days_until_due: Input should be a valid"),
        ("  lokup: list\n", ":8:3: unknown key 'billing.lokup' (did you mean 'lookup'?)"),
    ],
)
def test_a_typo_in_a_stripe_setting_names_file_line_and_column(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = _write(tmp_path, STRIPE.replace("  profile: stripe\n", f"  profile: stripe\n{line}"))

    [problem] = _problems(path, SECRETS)

    assert problem.startswith(f"{path}{expected}"), problem


def test_a_typo_in_an_environment_override_names_the_variable(tmp_path: Path) -> None:
    environ = {**SECRETS, "REVBRIDGE_BILLING__LOOKUP": "lists"}

    [problem] = _problems(_write(tmp_path, STRIPE), environ)

    assert problem.startswith("environment variable REVBRIDGE_BILLING__LOOKUP: billing.lookup")
    assert "lists" not in problem  # values are never echoed back
