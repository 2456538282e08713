"""``revbridge mappings test`` runs the fixtures of the mappings in use: the billing profile's
shipped ones, a config's ``mappings_dir/tests``, and those ``revbridge init`` copies."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from config.loader import load_settings
from config.settings import BillingProfile
from mappings.loader import fixture_dir_for, shipped_fixture_dir, shipped_mapping_files
from sync.cli.app import app
from sync.cli.scaffold import PROFILES
from tests.cli_process import cli_env, revbridge
from tests.unit.test_config_loader import MINIMAL, SECRETS

runner = CliRunner()
SHIPPED = Path(__file__).resolve().parents[2] / "mappings"


def _config(tmp_path: Path, profile: str, extra: str = "") -> Path:
    text = MINIMAL.replace("  api_key:", f"  profile: {profile}\n  api_key:") + extra
    path = tmp_path / f"revbridge-{profile}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _cases(folder: Path) -> int:
    return sum(
        len([d for d in YAML(typ="safe", pure=True).load_all(path.read_text("utf-8")) if d])
        for path in folder.glob("*.yaml")
    )


def _mappings_test(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    outcome = runner.invoke(
        app, ["mappings", "test", *args], env={"COLUMNS": "200", **SECRETS, **(env or {})}
    )
    return outcome.exit_code, outcome.output


@pytest.fixture
def stripe_project(tmp_path: Path) -> Path:
    outcome = runner.invoke(app, ["init", str(tmp_path / "proj"), "--profile", "stripe"])
    assert outcome.exit_code == 0, outcome.output
    return tmp_path / "proj"


def _run_in(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        revbridge("mappings", "test", "-c", "config/revbridge.yaml", *args),
        cwd=project, env=cli_env({"COLUMNS": "200", **SECRETS}), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_each_profile_has_one_fixture_folder_beside_its_mappings(tmp_path: Path) -> None:
    assert shipped_fixture_dir() == shipped_fixture_dir("json") == SHIPPED / "tests"
    assert shipped_fixture_dir("stripe") == SHIPPED / "profiles" / "stripe" / "tests"
    for profile in PROFILES:
        own = {path.parent for path in shipped_mapping_files(profile)} - {SHIPPED}
        assert {folder / "tests" for folder in own} <= {shipped_fixture_dir(profile)}
        assert _cases(shipped_fixture_dir(profile)) >= 8, profile
    (tmp_path / "mine").mkdir()
    settings = load_settings(_config(tmp_path, "stripe", "mappings_dir: mine\n"), SECRETS)
    assert fixture_dir_for(settings) == tmp_path / "mine" / "tests"


@pytest.mark.parametrize("profile", PROFILES)
def test_a_config_without_mappings_dir_runs_its_profiles_shipped_fixtures(
    tmp_path: Path, profile: BillingProfile
) -> None:
    fixtures = shipped_fixture_dir(profile)
    cases = _cases(fixtures)

    code, output = _mappings_test("-c", str(_config(tmp_path, profile)), "--json")

    assert code == 0, output
    report = json.loads(output)
    assert report["broken_files"] == []
    assert len(report["results"]) == cases
    assert all(result["passed"] for result in report["results"]), output
    assert {Path(result["source"].rsplit("#", 1)[0]).parent for result in report["results"]} == {
        fixtures
    }


def test_the_generic_fixtures_fail_against_the_stripe_mappings(tmp_path: Path) -> None:
    """Why the profile needs fixtures of its own: the payloads differ."""
    code, output = _mappings_test("-c", str(_config(tmp_path, "stripe")), str(SHIPPED / "tests"))

    assert code == 1
    counts = re.search(r"(\d+) passed, (\d+) failed", output)
    assert counts is not None, output
    assert int(counts.group(2)) > 0


def test_init_stripe_project_passes_its_fixtures(stripe_project: Path) -> None:
    copied = stripe_project / "mappings" / "tests"
    shipped = shipped_fixture_dir("stripe")
    assert sorted(path.name for path in copied.glob("*.yaml")) == sorted(
        path.name for path in shipped.glob("*.yaml")
    )
    for path in shipped.glob("*.yaml"):
        assert (copied / path.name).read_bytes() == path.read_bytes()

    outcome = _run_in(stripe_project)
    sources = {
        result["source"]
        for result in json.loads(_run_in(stripe_project, "--json").stdout)["results"]
    }

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert f"{_cases(shipped)} passed, 0 failed" in outcome.stdout
    assert {(stripe_project / source.rsplit("#", 1)[0]).resolve().parent for source in sources} == {
        copied.resolve()
    }


def test_init_generic_project_passes_its_fixtures(tmp_path: Path) -> None:
    assert runner.invoke(app, ["init", str(tmp_path / "proj")]).exit_code == 0

    outcome = _run_in(tmp_path / "proj")

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert f"{_cases(shipped_fixture_dir())} passed, 0 failed" in outcome.stdout


def test_a_fixture_with_a_yaml_syntax_error_is_named_at_its_line_and_exits_2(
    stripe_project: Path,
) -> None:
    broken = stripe_project / "mappings" / "tests" / "zz_broken.yaml"
    broken.write_text(
        "name: a case someone is still typing\n"
        "system: salesforce\n"
        "entity: account\n"
        "input: {Id: 0015g0000000007AAA, Name: Northwind\n"
        "expect: {}\n",
        encoding="utf-8",
    )

    outcome = _run_in(stripe_project)
    as_json = _run_in(stripe_project, "--json")

    assert outcome.returncode == 2, outcome.stdout + outcome.stderr
    (line,) = [line for line in outcome.stdout.splitlines() if line.startswith("BROKEN")]
    where = re.fullmatch(r"BROKEN (\S+):5:7: YAML error: expected ',' or '}', but got ':'", line)
    assert where is not None, line
    assert (stripe_project / where.group(1)).resolve() == broken.resolve()
    # The other files still run, so one typo doesn't hide the rest.
    cases = _cases(shipped_fixture_dir("stripe"))
    assert f"{cases} passed, 0 failed, 1 broken files" in outcome.stdout
    assert as_json.returncode == 2
    (message,) = json.loads(as_json.stdout)["broken_files"]
    assert message.startswith(f"{where.group(1)}:5:7: YAML error: ")
