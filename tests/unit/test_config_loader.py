"""Loading the YAML configuration: ${VAR} references, REVBRIDGE_* overrides, file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigInvalid, load_settings
from sync.cli.scaffold import config_template, env_example

SECRETS = {
    "SF_PASSWORD": "pw-MARKER-1",
    "SF_SECURITY_TOKEN": "tok-MARKER-2",
    "SF_CLIENT_ID": "client-id",
    "SF_CLIENT_SECRET": "cs-MARKER-3",
    "BILLING_API_KEY": "sk-MARKER-4",
    "NS_CONSUMER_KEY": "ck",
    "NS_CONSUMER_SECRET": "ncs-MARKER-5",
    "NS_TOKEN_ID": "tid",
    "NS_TOKEN_SECRET": "nts-MARKER-6",
}

MINIMAL = """\
version: 1
salesforce:
  username: integration@example.com
  password: ${SF_PASSWORD}
billing:
  base_url: https://billing.example.com
  api_key: ${BILLING_API_KEY}
erp:
  wsdl_url: https://example.com/netsuite.wsdl
  account: "123"
  consumer_key: ck
  consumer_secret: ${NS_CONSUMER_SECRET}
  token_id: tid
  token_secret: ${NS_TOKEN_SECRET}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "revbridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path, environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigInvalid) as caught:
        load_settings(path, environ)
    return [str(problem) for problem in caught.value.problems]


def test_references_resolve_from_the_environment_into_secret_strings(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, MINIMAL), SECRETS)

    assert settings.salesforce.password is not None
    assert settings.salesforce.password.get_secret_value() == "pw-MARKER-1"
    assert "pw-MARKER-1" not in repr(settings)
    assert "sk-MARKER-4" not in str(settings.model_dump())


def test_revbridge_variables_override_the_file_including_nested_keys(tmp_path: Path) -> None:
    environ = {
        **SECRETS,
        "REVBRIDGE_DATABASE_URL": "postgresql://revbridge@db/revbridge",
        "REVBRIDGE_SALESFORCE__USERNAME": "other@example.com",
        "REVBRIDGE_RETRY__ATTEMPTS": "7",
        "REVBRIDGE_FLOWS": '[{"name": "nightly", "schedule": "0 2 * * *"}]',
        "REVBRIDGE_TEST_POSTGRES_URL": "not a setting: ignored",
    }
    settings = load_settings(_write(tmp_path, MINIMAL + "retry:\n  attempts: 2\n"), environ)

    assert settings.database_url == "postgresql://revbridge@db/revbridge"
    assert settings.salesforce.username == "other@example.com"
    assert settings.retry.attempts == 7
    assert [flow.name for flow in settings.flows] == ["nightly"]
    assert settings.billing.base_url == "https://billing.example.com"  # untouched by overrides


def test_relative_mappings_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    path = tmp_path / "config" / "revbridge.yaml"
    path.write_text(MINIMAL + "mappings_dir: ../mappings\n", encoding="utf-8")

    settings = load_settings(path, SECRETS)

    assert settings.mappings_dir is not None
    assert settings.mappings_dir.resolve() == (tmp_path / "mappings").resolve()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            ("  username: integration", "  usrname: integration"),
            ":3:3: unknown key 'salesforce.usrname' (did you mean 'username'?)",
            id="unknown-nested-key",
        ),
        pytest.param(
            ("version: 1\n", "version: 1\ndatabase: x\n"),
            ":2:1: unknown key 'database'",
            id="unknown-top-level-key",
        ),
        pytest.param(
            ("  token_id: tid\n", "  token_id: tid\n  batch_size: lots\n"),
            ":14:15: erp.batch_size: Input should be a valid integer",
            id="wrong-type",
        ),
        pytest.param(
            ("  base_url: https://billing.example.com\n", ""),
            ":5:1: missing required key 'billing.base_url'",
            id="missing-key",
        ),
        pytest.param(
            ("version: 1", "version: 3"),
            ":1:10: version: Input should be 1",
            id="unsupported-version",
        ),
        pytest.param(
            ('  account: "123"\n', '  account: "123"\n\taccount: 1\n'),
            ":11:1: tab in indentation",
            id="tab",
        ),
        pytest.param(
            ("  consumer_key: ck\n", "  consumer_key: ck\n  consumer_key: again\n"),
            ":12:3: YAML error: duplicate key",
            id="duplicate-key",
        ),
    ],
)
def test_invalid_configuration_names_file_line_and_column(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    old, new = edit
    assert old in MINIMAL
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))

    problems = _problems(path, SECRETS)

    assert any(problem.startswith(str(path)) and expected in problem for problem in problems), (
        problems
    )


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("  username:", "  user:").replace('  account: "123"', "  acount: 1")
    problems = _problems(_write(tmp_path, text), SECRETS)

    assert len(problems) == 3  # salesforce.user, erp.acount, erp.account missing
    assert sorted(p.split(":")[1] for p in problems) == ["10", "3", "8"]


def test_unset_variables_are_all_listed_with_their_positions(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)

    problems = _problems(path, {"SF_PASSWORD": "x"})

    assert problems == [
        f"{path}:7:12: environment variable BILLING_API_KEY is not set",
        f"{path}:12:20: environment variable NS_CONSUMER_SECRET is not set",
        f"{path}:14:17: environment variable NS_TOKEN_SECRET is not set",
    ]


def test_a_wrong_override_names_its_variable_and_never_echoes_the_value(tmp_path: Path) -> None:
    environ = {**SECRETS, "REVBRIDGE_SALESFORCE__PAGE_SIZE": "MARKER-not-a-number"}

    problems = _problems(_write(tmp_path, MINIMAL), environ)

    assert len(problems) == 1
    assert problems[0].startswith("environment variable REVBRIDGE_SALESFORCE__PAGE_SIZE: ")
    assert "MARKER" not in problems[0]


def test_a_wrongly_typed_secret_is_not_echoed(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("${SF_PASSWORD}", "[MARKER-in-a-list]"))

    problems = _problems(path, SECRETS)

    assert problems
    assert all("MARKER" not in problem for problem in problems)
    assert ":4:13: salesforce.password:" in problems[0]


def test_a_missing_or_empty_file_says_so(tmp_path: Path) -> None:
    missing = _problems(tmp_path / "nope.yaml", SECRETS)
    empty = _problems(_write(tmp_path, ""), SECRETS)

    assert "cannot read the configuration" in missing[0]
    assert any("missing required key 'salesforce'" in problem for problem in empty)


def test_the_scaffold_template_and_shipped_example_load(tmp_path: Path) -> None:
    template = _write(tmp_path, config_template())
    example = Path(__file__).resolve().parents[2] / "config" / "examples" / "production.yaml"
    environ = {**SECRETS, "ALERT_WEBHOOK_URL": "https://hooks.example.com/x", "PGPASSWORD": "p"}

    for path in (template, example):
        settings = load_settings(path, environ)
        assert settings.flows, path


def test_env_example_lists_every_variable_the_template_references() -> None:
    text = env_example(config_template())

    active = {line.split("=")[0] for line in text.splitlines() if line and line[0] != "#"}
    assert active == set(SECRETS)
    assert "# ALERT_WEBHOOK_URL=" in text  # referenced only in a comment: optional
