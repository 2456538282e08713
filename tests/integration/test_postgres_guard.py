"""Under CI a missing PostgreSQL fails the store tests; locally it skips them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# A port nothing listens on: connection refused at once.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=2"


def _run_store_test(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["REVBRIDGE_TEST_POSTGRES_URL"] = UNREACHABLE
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
         "tests/integration/test_store.py::test_upgrade_is_idempotent"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_unreachable_postgres_fails_the_run_under_ci() -> None:
    completed = _run_store_test("true")
    assert completed.returncode == 1, completed.stdout
    assert "PostgreSQL unreachable" in completed.stdout
    assert "1 passed" in completed.stdout  # the SQLite half still ran


def test_unreachable_postgres_skips_locally() -> None:
    completed = _run_store_test(None)
    assert completed.returncode == 0, completed.stdout
    assert "1 skipped" in completed.stdout
