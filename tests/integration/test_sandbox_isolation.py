"""The product never loads the fakes: only ``demo`` and ``sandbox`` import the sandboxes."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from tests.cli_process import ROOT, cli_env

PRODUCT_PACKAGES = ("config", "connectors", "mappings", "sync")
# The commands that start the sandboxes import them lazily, from these modules only: the
# sandbox command and the demo (whose sections, demo_*.py, only demo.py imports).
SANDBOX_GATEWAYS = {"sync/cli/sandboxes.py", "sync/cli/demo.py", "sync/cli/demo_assurance.py"}

# Runs the CLI in-process, then reports whether any fake or the test CA got imported.
PROBE = """
import json, sys
from sync.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
leaked = sorted(m for m in sys.modules
                if m.split(".")[0] in ("sandboxes", "trustme"))
print("PROBE " + json.dumps({"code": code, "leaked": leaked}))
"""


def _probe(*args: str, cwd: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=cli_env(), cwd=cwd,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE "))
    result: dict[str, object] = json.loads(line.removeprefix("PROBE "))
    return result


def test_run_help_imports_no_sandbox_and_no_test_ca(tmp_path: Path) -> None:
    result = _probe("run", "--help", cwd=tmp_path)
    assert result == {"code": 0, "leaked": []}


@pytest.mark.slow
def test_a_real_run_imports_no_sandbox_and_no_test_ca(tmp_path: Path) -> None:
    size = SandboxSize(accounts=3, orders=6, products=3, invalid_records=False)
    with Sandboxes(size) as sandboxes:
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, sandboxes.settings_document(f"sqlite:///{tmp_path}/r.db"))
        result = _probe("run", "-c", str(config), cwd=tmp_path)
        # The run really happened: the sandbox's billing API holds the synced accounts.
        assert len(sandboxes.billing.resources("customers")) == 3
    assert result == {"code": 0, "leaked": []}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_sandboxes_import_nothing_of_the_product() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imports(path) if name.split(".")[0] in PRODUCT_PACKAGES
        )
        for path in (ROOT / "sandboxes").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_only_the_sandbox_commands_import_the_sandboxes() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for package in PRODUCT_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if any(name.split(".")[0] == "sandboxes" for name in _imports(path))
    }
    assert importers <= SANDBOX_GATEWAYS
