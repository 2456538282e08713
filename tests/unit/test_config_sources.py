"""Where a connection setting came from: `check` names the variables that override the file.

A `.env` written by `init --from-sandbox` holds REVBRIDGE_* overrides; an edit to the same
setting in the file then has no effect, and nothing used to say why.
"""

from __future__ import annotations

from pathlib import Path

from config.loader import Override, overrides_in_effect

CONFIG = """\
version: 1
billing:
  base_url: https://billing.example.com
  api_key: key
"""


def test_a_variable_that_overrides_the_file_is_named_with_the_value_it_hides(
    tmp_path: Path,
) -> None:
    path = tmp_path / "revbridge.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    environ = {
        "REVBRIDGE_BILLING__BASE_URL": "http://127.0.0.1:8080",
        "REVBRIDGE_SERVE__LEASE_SECONDS": "90",
        "UNRELATED": "x",
    }

    found = overrides_in_effect(path, environ)

    assert found == [
        Override("billing.base_url", "REVBRIDGE_BILLING__BASE_URL", f"{path}:3:13"),
        Override("serve.lease_seconds", "REVBRIDGE_SERVE__LEASE_SECONDS", None),
    ]


def test_no_variables_no_overrides(tmp_path: Path) -> None:
    path = tmp_path / "revbridge.yaml"
    path.write_text(CONFIG, encoding="utf-8")

    assert overrides_in_effect(path, {}) == []
