"""``revbridge run`` takes the flow's lease, so it never overlaps a serve replica's run."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.service.flow_lease import FlowLease
from sync.store import Store

runner = CliRunner()


@pytest.fixture
def configured(tmp_path: Path, database_url: str) -> Iterator[tuple[Sandboxes, Path]]:
    with Sandboxes(SandboxSize(accounts=4, orders=10, products=3)) as sandboxes:
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, sandboxes.settings_document(database_url))
        yield sandboxes, config


def _lease(database_url: str, owner: str) -> FlowLease:
    return FlowLease(Store(database_url), "quote-to-cash", owner, ttl=timedelta(minutes=5),
                     heartbeat_seconds=60)  # fmt: skip


def test_run_refuses_while_a_live_replica_holds_the_flow(
    configured: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = configured
    holder = _lease(database_url, "replica-elsewhere:4242:abcd")
    assert holder.acquire()

    refused = runner.invoke(app, ["run", "-c", str(config)])

    assert refused.exit_code == 1
    assert "held by a revbridge process on replica-elsewhere pid 4242" in refused.output
    assert sandboxes.billing.resources("customers") == []
    holder.release()
    assert runner.invoke(app, ["run", "-c", str(config)]).exit_code == 0
    assert sandboxes.billing.resources("customers")


def test_run_takes_over_from_a_dead_run_on_this_host(
    configured: tuple[Sandboxes, Path], database_url: str
) -> None:
    _, config = configured
    # No process has pid 2**22 + 1 (above Linux's pid_max), so this holder is certainly gone.
    dead = _lease(database_url, f"{socket.gethostname()}:{2**22 + 1}:dead")
    assert dead.acquire()

    outcome = runner.invoke(app, ["run", "-c", str(config)])

    assert outcome.exit_code == 0, outcome.output
