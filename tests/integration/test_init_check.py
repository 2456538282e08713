"""`revbridge init` then `revbridge check`: the README's walk, against the loopback sandboxes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.cli.scaffold import config_template, sandbox_environment
from tests.cli_process import cli_env, revbridge

runner = CliRunner()


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SandboxSize(accounts=4, orders=12, products=4)) as boxes:
        yield boxes


def _sandbox_env(sandboxes: Sandboxes) -> dict[str, str]:
    """What a user puts in .env: the sandbox's secrets and where its servers listen."""
    document = sandboxes.settings_document("sqlite:///unused.db")
    return sandbox_environment(document, config_template())


@dataclass(frozen=True)
class Checked:
    """What `revbridge check` printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str


def _check(project: Path, env: dict[str, str], *args: str) -> Checked:
    """`revbridge check` in-process (fast), from the project folder as a user runs it."""
    previous = Path.cwd()
    os.chdir(project)
    try:
        outcome = runner.invoke(
            app, ["check", "--config", "config/revbridge.yaml", *args],
            env={"COLUMNS": "200", **env},
        )  # fmt: skip
    finally:
        os.chdir(previous)
    return Checked(outcome.exit_code, outcome.stdout, outcome.stderr)


def test_init_writes_config_mappings_and_env_example(tmp_path: Path) -> None:
    outcome = runner.invoke(app, ["init", str(tmp_path / "proj")])

    assert outcome.exit_code == 0, outcome.output
    project = tmp_path / "proj"
    assert (project / "config" / "revbridge.yaml").read_text().startswith("# revbridge config")
    assert sorted(p.name for p in (project / "mappings").glob("*.yaml")) == [
        "billing.yaml", "erp.yaml", "salesforce.yaml",
    ]  # fmt: skip
    assert "SF_PASSWORD=" in (project / ".env.example").read_text()
    assert ".env" in (project / ".gitignore").read_text().splitlines()
    assert "revbridge check -c config/revbridge.yaml" in outcome.output


def test_init_keeps_edited_files_unless_forced(tmp_path: Path) -> None:
    runner.invoke(app, ["init", str(tmp_path)])
    config = tmp_path / "config" / "revbridge.yaml"
    config.write_text("# mine\n")

    kept = runner.invoke(app, ["init", str(tmp_path)])
    assert config.read_text() == "# mine\n"
    assert "kept" in kept.output
    runner.invoke(app, ["init", str(tmp_path), "--force"])
    assert config.read_text() != "# mine\n"


def test_scaffold_passes_check_against_the_sandboxes(sandboxes: Sandboxes, tmp_path: Path) -> None:
    runner.invoke(app, ["init", str(tmp_path)])

    outcome = _check(tmp_path, _sandbox_env(sandboxes))

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    for row in ("configuration", "mappings", "salesforce", "billing", "erp wsdl", "state store"):
        assert row in outcome.stdout
    assert "daily API calls left" in outcome.stdout
    assert "SuiteTalk 2023_2" in outcome.stdout
    assert "FAILED" not in outcome.stdout


def test_init_from_sandbox_writes_a_private_env_file_that_check_accepts(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    sandbox_config = tmp_path / "revbridge.sandbox.yaml"
    write_sandbox_config(sandbox_config, sandboxes.settings_document("sqlite:///x.db"))

    outcome = runner.invoke(
        app, ["init", str(tmp_path / "p"), "--from-sandbox", str(sandbox_config)]
    )

    assert outcome.exit_code == 0, outcome.output
    dotenv = tmp_path / "p" / ".env"
    assert dotenv.stat().st_mode & 0o077 == 0
    env = dict(
        line.split("=", 1) for line in dotenv.read_text().splitlines() if not line.startswith("#")
    )
    assert _check(tmp_path / "p", env).returncode == 0


def test_check_then_run_syncs_with_the_scaffolded_project(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    runner.invoke(app, ["init", str(tmp_path)])
    env = {**os.environ, **_sandbox_env(sandboxes)}

    run = subprocess.run(
        revbridge("run", "--config", "config/revbridge.yaml", "--json"),
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False, env=cli_env(env),
    )  # fmt: skip
    after = _check(tmp_path, _sandbox_env(sandboxes))

    assert run.returncode == 0, run.stderr
    assert '"created"' in run.stdout
    assert after.returncode == 0
    assert "(latest)" in after.stdout  # the run created and migrated the store


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        pytest.param({"SF_PASSWORD": "wrong"}, 3, "salesforce: credentials refused", id="auth"),
        pytest.param({"NS_TOKEN_SECRET": "wrong"}, 3, "erp: credentials refused", id="soap-auth"),
        pytest.param(
            {"REVBRIDGE_BILLING__BASE_URL": "http://127.0.0.1:9"},
            4,
            "billing: unreachable",
            id="unreachable",
        ),
        pytest.param(
            {"REVBRIDGE_ERP__WSDL_URL": "http://127.0.0.1:9/wsdl"},
            4,
            "erp wsdl:",
            id="wsdl",
        ),
        pytest.param(
            {"REVBRIDGE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/x"},
            5,
            "state store: cannot open",
            id="store",
        ),
        pytest.param(
            {"REVBRIDGE_RETRY__ATTEMPTS": "0"}, 2, "REVBRIDGE_RETRY__ATTEMPTS", id="config"
        ),
    ],
)
def test_check_exits_with_the_class_of_the_first_failure(
    sandboxes: Sandboxes, tmp_path: Path, change: dict[str, str], code: int, message: str
) -> None:
    runner.invoke(app, ["init", str(tmp_path)])

    outcome = _check(tmp_path, {**_sandbox_env(sandboxes), **change})

    assert outcome.returncode == code, outcome.stdout + outcome.stderr
    assert message in outcome.stderr


def test_check_reports_every_mapping_problem_with_its_position(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    runner.invoke(app, ["init", str(tmp_path)])
    mapping = tmp_path / "mappings" / "billing.yaml"
    mapping.write_text(mapping.read_text() + "\nbogus_top_level_key: 1\n")

    outcome = _check(tmp_path, _sandbox_env(sandboxes), "--json")

    assert outcome.returncode == 2
    assert "billing.yaml:" in outcome.stdout
    assert '"salesforce"' not in outcome.stdout  # no system is contacted with broken mappings
