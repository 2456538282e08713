"""`revbridge init --profile stripe`: a project on Stripe's mappings, flows and deletes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.loader import ConfigInvalid
from mappings.loader import shipped_mapping_files
from sync.cli.app import app
from sync.cli.common import load_checked_settings, mappings_for
from tests.cli_process import cli_env, revbridge
from tests.unit.test_config_loader import SECRETS

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    outcome = runner.invoke(app, ["init", str(tmp_path / "proj"), "--profile", "stripe"])
    assert outcome.exit_code == 0, outcome.output
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "proj"


def _uncomment_deletes(config: Path) -> None:
    """The config with the scaffolded ``# deletes:`` block of quote-to-cash switched on."""
    lines = config.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "# deletes:")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    #   "))
    lines[start:end] = [line.replace("# ", "", 1) for line in lines[start:end]]
    config.write_text("".join(lines))


def test_init_stripe_scaffolds_the_stripe_mappings_and_profile(project: Path) -> None:
    config = project / "config" / "revbridge.yaml"

    settings = load_checked_settings(config)

    assert settings.billing.profile == "stripe"
    assert {f.name: (f.source, f.targets) for f in settings.flows}["receivables"] == (
        "billing", ["erp", "salesforce"],
    )  # fmt: skip
    for shipped in shipped_mapping_files("stripe"):
        assert (project / "mappings" / shipped.name).read_bytes() == shipped.read_bytes()
    billing = mappings_for(settings).system("billing").entities
    assert billing["invoice_line"].object_name == "line_items"


def test_init_stripe_project_passes_mappings_check(project: Path) -> None:
    outcome = subprocess.run(
        revbridge("mappings", "check", "-c", "config/revbridge.yaml"),
        cwd=project, env=cli_env(SECRETS), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "3 mapping files, no problems" in outcome.stdout


def test_init_stripe_offers_only_delete_policies_stripe_can_honour(project: Path) -> None:
    config = project / "config" / "revbridge.yaml"
    _uncomment_deletes(config)

    flow = next(f for f in load_checked_settings(config).flows if f.name == "quote-to-cash")

    assert flow.deletes == {
        "account": "propagate",
        "product": "propagate",
        "price_book_entry": "deactivate",
        "order": "deactivate",
    }
    config.write_text(config.read_text().replace("order: deactivate", "order: propagate"))
    with pytest.raises(ConfigInvalid, match=r"deletes\.order: propagate is not possible"):
        load_checked_settings(config)


def test_init_with_a_misspelt_profile_fails_in_one_line(tmp_path: Path) -> None:
    outcome = subprocess.run(
        revbridge("init", str(tmp_path / "proj"), "--profile", "strpie"),
        env=cli_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        "error: unknown --profile 'strpie' (did you mean stripe?); choose json or stripe"
    ]
    assert not (tmp_path / "proj").exists()


def test_init_from_sandbox_is_for_the_generic_profile(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox.yaml"
    sandbox.write_text("billing: {}\n")

    outcome = runner.invoke(
        app,
        ["init", str(tmp_path / "p"), "--profile", "stripe", "--from-sandbox", str(sandbox)],
    )

    assert outcome.exit_code == 2
    assert "--from-sandbox" in outcome.stderr
    assert not (tmp_path / "p").exists()
