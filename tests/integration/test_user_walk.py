"""The README's walk as a user does it: serve the sandboxes, sync against them, stop cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import ROOT, revbridge

pytestmark = pytest.mark.slow


def _wait_for_line(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} never printed; got:\n{''.join(seen)}")


def test_sandbox_command_serves_a_config_that_run_syncs_against(tmp_path: Path) -> None:
    config = tmp_path / "revbridge.sandbox.yaml"
    database = tmp_path / "state.db"
    env = {**os.environ, "COLUMNS": "200"}
    sandbox = subprocess.Popen(
        revbridge("sandbox", "--config-out", str(config), "--accounts", "5",
         "--orders", "30", "--database-url", f"sqlite:///{database}"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        printed = "".join(_wait_for_line(sandbox, "Press Ctrl-C"))
        assert "https://127.0.0.1:" in printed
        assert config.stat().st_mode & 0o077 == 0, "the sandbox config must be private"

        first = subprocess.run(
            revbridge("run", "--config", str(config), "--json"),
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        second = subprocess.run(
            revbridge("run", "--config", str(config), "--json"),
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        sandbox.send_signal(signal.SIGTERM)
        sandbox.communicate(timeout=30)

    assert first.returncode == 0, first.stderr
    assert sandbox.returncode == 0
    first_summary = json.loads(first.stdout)
    assert first_summary["systems"]["billing"]["created"] > 30
    # The ERP gets all billing gets, and contacts, estimates and custom records besides.
    assert (
        first_summary["systems"]["erp"]["created"] > first_summary["systems"]["billing"]["created"]
    )
    second_summary = json.loads(second.stdout)
    assert second_summary["systems"].get("billing", {}).get("created", 0) == 0
    assert database.exists()


def test_installed_console_script_answers_help() -> None:
    script = Path(sys.executable).with_name("revbridge")
    completed = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                               timeout=60, check=False)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "demo" in completed.stdout
