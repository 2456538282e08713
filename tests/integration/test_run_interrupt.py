"""Ctrl-C or SIGTERM during `run` or `backfill`: the page in hand commits, the run says so.

Before, the process exited 130 with no output and the run stayed ``running`` with 0 written
forever. Now the run is recorded ``stopped`` with what it wrote, the summary is printed (with
the ``--resume`` command for a backfill) and the exit code is 130.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store.schema import canonical_records, runs
from tests.cli_process import cli_env, revbridge

SIZE = SandboxSize(accounts=20, orders=300, products=5, invalid_records=False, page_size=200)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        yield running


def _wait_for_a_committed_page(database: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if database.exists():
            engine = sa.create_engine(f"sqlite:///{database}")
            try:
                with engine.connect() as connection:
                    stored = connection.execute(
                        sa.select(sa.func.count()).select_from(canonical_records)
                    ).scalar_one()
            except sa.exc.OperationalError:
                stored = 0  # the store is being created
            finally:
                engine.dispose()
            if stored:
                return
        time.sleep(0.05)
    pytest.fail("no page was committed")


@pytest.mark.parametrize(
    ("command", "signum"),
    [(("run",), signal.SIGINT), (("backfill", "--since", "2020-01-01"), signal.SIGTERM)],
)
def test_a_signal_stops_after_the_page_in_hand_and_the_run_is_recorded_stopped(
    sandboxes: Sandboxes, tmp_path: Path, command: tuple[str, ...], signum: signal.Signals
) -> None:
    config = tmp_path / "revbridge.yaml"
    database = tmp_path / "revbridge.db"
    write_sandbox_config(config, sandboxes.settings_document(f"sqlite:///{database}"))
    sandboxes.billing.set_latency(0.3)  # each billing call slow: the run lasts many pages

    process = subprocess.Popen(
        revbridge(*command, "-c", str(config)), env=cli_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_a_committed_page(database, process)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        sandboxes.billing.set_latency(0)

    assert "Traceback" not in stderr, stderr
    assert process.returncode == 130, stdout + stderr
    assert "finishing the page in hand" in stderr
    assert "stopped" in stdout
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        status, stats, message = connection.execute(
            sa.select(runs.c.status, runs.c.stats, runs.c.message)
        ).one()
    engine.dispose()
    assert status == "stopped"
    assert "stopped on request" in message
    assert stats["systems"]["billing"]["created"] > 0  # what it wrote is on record
    if command[0] == "backfill":
        assert "resume with: revbridge backfill" in stdout


def test_a_run_whose_process_died_is_marked_abandoned_by_the_next_run(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    config = tmp_path / "revbridge.yaml"
    database = tmp_path / "revbridge.db"
    write_sandbox_config(config, sandboxes.settings_document(f"sqlite:///{database}"))
    sandboxes.billing.set_latency(0.3)
    killed = subprocess.Popen(
        revbridge("run", "-c", str(config)), env=cli_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_a_committed_page(database, killed)
        killed.kill()  # SIGKILL: no handler runs, the run row stays "running"
        killed.wait(timeout=60)
    finally:
        killed.kill()
        sandboxes.billing.set_latency(0)

    after = subprocess.run(
        revbridge("run", "-c", str(config)), env=cli_env(), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip

    assert after.returncode == 0, after.stdout + after.stderr
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        first, second = connection.execute(
            sa.select(runs.c.status, runs.c.message).order_by(runs.c.id)
        ).all()
    engine.dispose()
    assert first.status == "failed"
    assert first.message.startswith("abandoned:")
    assert second.status in ("succeeded", "partial")
