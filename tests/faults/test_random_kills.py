"""SIGKILL a real ``revbridge run`` at seeded random moments, re-run, and converge.

Each round arms a request gate on a randomly chosen sandbox endpoint (Salesforce queries,
billing upserts, ERP SOAP calls) after a random number of requests, starts ``revbridge run`` in
a subprocess, and SIGKILLs it the moment the gate holds a request: between pages, in the middle
of a page's writes, or while a page waits for the ERP. After the rounds one more run must
finish, the invariants must hold, and the downstream state must equal an uninterrupted run's.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import SalesforceSettings
from sandboxes.erp.sandbox import SERVICE_PATH
from sandboxes.server import LoopbackServer
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from tests.cli_process import ROOT, cli_env, revbridge
from tests.faults.faults_harness import (
    check_billing,
    check_erp,
    check_error_queue,
    downstream_snapshot,
    expectations_from,
)

pytestmark = pytest.mark.slow

SIZE = SandboxSize(accounts=12, orders=1800, products=6, page_size=200)
SEED = 1729
KILLS = 10
MAX_ROUNDS = 16
_QUERY = f"/services/data/v{SalesforceSettings().api_version}/query"
# (sandbox, method, path prefix, most requests let through before the gate closes)
ENDPOINTS = (
    ("salesforce", "GET", _QUERY, 8),
    ("billing", "POST", "/v1/", 2),  # batch upserts of up to 100 records each
    ("erp", "POST", SERVICE_PATH, 10),
)


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        revbridge("run", "--config", str(config), "--json"),
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _kill_at_gate(
    config: Path, server: LoopbackServer, method: str, prefix: str, let_through: int
) -> bool:
    """Run until the gate holds a request, then SIGKILL; False when the run finished first."""
    gate = server.hold_requests(method, prefix, let_through=let_through)
    process = subprocess.Popen(
        revbridge("run", "--config", str(config)), cwd=ROOT, env=cli_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # Poll both: the run may finish without ever reaching the gate.
        while not gate.arrived.wait(timeout=0.05):
            if process.poll() is not None:
                assert process.returncode == 0, f"an unkilled run failed: {process.returncode}"
                return False
        # Requests let through before the held one are answered before the kill, so each
        # round kills at the point it names (not while an earlier batch is still uploading).
        assert gate.passed_answered.wait(timeout=60), "a let-through request was never answered"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        return True
    finally:
        gate.release()
        if process.poll() is None:
            process.kill()
            process.wait()


def _configured(folder: Path, sandboxes: Sandboxes, database_url: str) -> Path:
    config = folder / "revbridge.yaml"
    write_sandbox_config(config, sandboxes.settings_document(database_url))
    return config


@pytest.fixture(scope="module")
def reference_state() -> dict[str, dict[str, Any]]:
    """Downstream state after one uninterrupted run on identically seeded sandboxes."""
    with tempfile.TemporaryDirectory() as folder, Sandboxes(SIZE) as sandboxes:
        config = _configured(Path(folder), sandboxes, f"sqlite:///{folder}/reference.db")
        completed = _run(config)
        assert completed.returncode == 0, completed.stderr
        return downstream_snapshot(sandboxes)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        yield running


def test_random_kills_then_a_rerun_match_an_uninterrupted_run(
    sandboxes: Sandboxes,
    database_url: str,
    tmp_path: Path,
    reference_state: dict[str, dict[str, Any]],
) -> None:
    config = _configured(tmp_path, sandboxes, database_url)
    servers = {
        "salesforce": sandboxes.salesforce.server,
        "billing": sandboxes.billing.server,
        "erp": sandboxes.erp.server,
    }
    schedule = random.Random(SEED)
    kills: list[tuple[str, int]] = []
    for _ in range(MAX_ROUNDS):
        system, method, prefix, most = schedule.choice(ENDPOINTS)
        let_through = schedule.randint(0, most)
        if _kill_at_gate(config, servers[system], method, prefix, let_through):
            kills.append((system, let_through))
        if len(kills) == KILLS:
            break
    assert len(kills) == KILLS, f"only {len(kills)} runs were killed: {kills}"
    assert {system for system, _ in kills} == set(servers), kills

    completed = _run(config)

    assert completed.returncode == 0, completed.stderr
    assert downstream_snapshot(sandboxes) == reference_state
    expected = expectations_from(sandboxes.salesforce)
    check_billing(sandboxes, expected)
    check_erp(sandboxes, expected)
    store = Store(database_url)
    try:
        check_error_queue(store.engine, expected)
    finally:
        store.close()
