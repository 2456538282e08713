"""An operator's typo in the text option is caught before any record moves, at file:line:col."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mappings.loader import shipped_mapping_files
from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config

runner = CliRunner()


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SandboxSize(accounts=2, orders=2, products=2, invalid_records=False)) as up:
        yield up


def _mistyped_mappings(folder: Path) -> Path:
    folder.mkdir()
    for path in shipped_mapping_files():
        text = path.read_text(encoding="utf-8")
        if path.name == "salesforce.yaml":
            text = text.replace(
                "system: salesforce\n", "system: salesforce\ntext: {ilegal_characters: strip}\n", 1
            )
            text = text.replace(
                "      name: {path: Name}\n",
                "      name: {path: Name, illegal_characters: strp}\n",
                1,
            )
        (folder / path.name).write_text(text, encoding="utf-8")
    return folder / "salesforce.yaml"


def _positions(output: str, path: Path) -> list[str]:
    return [line.split(" ", 1)[0] for line in output.splitlines() if line.startswith(str(path))]


def test_mappings_check_names_each_typo_at_file_line_column(tmp_path: Path) -> None:
    mistyped = _mistyped_mappings(tmp_path / "mappings")
    lines = mistyped.read_text(encoding="utf-8").splitlines()
    text_line = lines.index("text: {ilegal_characters: strip}") + 1
    name_line = lines.index("      name: {path: Name, illegal_characters: strp}") + 1

    outcome = runner.invoke(
        app, ["mappings", "check", *map(str, sorted(mistyped.parent.glob("*.yaml")))]
    )

    assert outcome.exit_code == 2, outcome.output  # invalid mappings: 2, as `run` and `check`
    assert _positions(outcome.output, mistyped) == [
        f"{mistyped}:{text_line}:8:",
        f"{mistyped}:{name_line}:46:",
    ]
    assert "did you mean 'illegal_characters'?" in outcome.output
    assert "Input should be 'reject' or 'strip'" in outcome.output


def test_a_run_with_a_mistyped_option_stops_before_any_record_moves(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    mistyped = _mistyped_mappings(tmp_path / "mappings")
    document = sandboxes.settings_document(f"sqlite:///{tmp_path / 'revbridge.db'}")
    document["mappings_dir"] = str(mistyped.parent)
    config = tmp_path / "revbridge.yaml"
    write_sandbox_config(config, document)

    outcome = runner.invoke(app, ["run", "-c", str(config), "--flow", "quote-to-cash"])

    assert outcome.exit_code == 2, outcome.output
    assert f"{mistyped}:" in outcome.output
    assert sandboxes.billing.calls == 0
    assert sandboxes.erp.calls == 0
