"""The CLI for scripts: JSON and CSV on stdout alone, whole lines in a pipe, --version.

One real run against the sandboxes, then each command as a script would call it, in a
subprocess whose stdout is a pipe.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from tests.cli_process import cli_env, revbridge

SMALL = SandboxSize(accounts=4, orders=12, products=3)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A config whose store holds one run (with rejected records in the error queue)."""
    folder = tmp_path_factory.mktemp("synced")
    with Sandboxes(SMALL) as sandboxes:
        config = folder / "revbridge.yaml"
        write_sandbox_config(config, sandboxes.settings_document("sqlite:///revbridge.db"))
        first = _revbridge("run", "-c", str(config))
        assert first.returncode == 0, first.stdout + first.stderr
        yield config


def _revbridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        revbridge(*args), env=cli_env({"NO_COLOR": "1"}), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def test_version_prints_the_version() -> None:
    done = _revbridge("--version")

    assert done.returncode == 0
    assert done.stdout.startswith("revbridge ")


def test_backfill_dry_run_json_prints_one_json_object(synced: Path) -> None:
    done = _revbridge("backfill", "-c", str(synced), "--since", "2020-01-01", "--dry-run", "--json")

    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["read"]


@pytest.mark.parametrize("command", [("errors", "list"), ("runs",), ("conflicts", "list")])
def test_list_commands_print_json_lines(synced: Path, command: tuple[str, ...]) -> None:
    done = _revbridge(*command, "-c", str(synced), "--json")

    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(isinstance(row, dict) for row in rows)
    if command != ("conflicts", "list"):
        assert rows


@pytest.mark.parametrize("command", [("errors", "list"), ("runs",), ("status",)])
def test_list_commands_print_csv(synced: Path, command: tuple[str, ...]) -> None:
    done = _revbridge(*command, "-c", str(synced), "--format", "csv")

    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert rows


def test_runs_show_prints_the_run_table(synced: Path) -> None:
    done = _revbridge("runs", "show", "1", "-c", str(synced))

    assert done.returncode == 0, done.stderr
    assert "run 1 of quote-to-cash" in done.stdout
    assert "deleted" in done.stdout
    assert "error queue" in done.stdout  # the errors the run queued


def test_a_table_in_a_pipe_keeps_each_message_on_one_line(synced: Path) -> None:
    listed = _revbridge("errors", "list", "-c", str(synced), "--json")
    messages = [json.loads(line)["message"] for line in listed.stdout.splitlines()]

    table = _revbridge("errors", "list", "-c", str(synced))

    assert "…" not in table.stdout
    assert all(any(m in line for line in table.stdout.splitlines()) for m in messages)
    assert "\x1b[" not in table.stdout  # no colour codes in a pipe
