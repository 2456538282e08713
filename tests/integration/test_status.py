"""``revbridge runs`` and ``revbridge status`` on a store that real runs filled."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes
from sync.service.flow_lease import FlowLease
from sync.store import Store
from sync.store.runs import finish_run, start_run
from sync.store.schema import RunStatus
from tests.serve_harness import SMALL, write_serve_config

runner = CliRunner()


@pytest.fixture
def synced(tmp_path: Path, database_url: str) -> Path:
    """A config whose store holds two real runs of quote-to-cash and one run of another flow."""
    with Sandboxes(SMALL) as sandboxes:
        config = write_serve_config(tmp_path / "revbridge.yaml", sandboxes, database_url)
        for _ in range(2):
            outcome = runner.invoke(app, ["run", "--config", str(config), "--json"])
            assert outcome.exit_code == 0, outcome.output
    store = Store(database_url)
    with store.transaction() as connection:
        other = start_run(connection, "billing-backfill")
        finish_run(connection, other, RunStatus.FAILED, {}, "AuthError: refused")
    store.close()
    return config


def _json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_runs_lists_history_newest_first_and_filters_by_flow(synced: Path) -> None:
    everything = runner.invoke(app, ["runs", "--config", str(synced), "--json"])
    one_flow = runner.invoke(
        app, ["runs", "--config", str(synced), "--flow", "quote-to-cash", "--limit", "1", "--json"]
    )
    table = runner.invoke(app, ["runs", "--config", str(synced)])

    assert everything.exit_code == 0, everything.output
    runs = _json_lines(everything.output)
    assert [run["flow"] for run in runs] == ["billing-backfill", "quote-to-cash", "quote-to-cash"]
    assert [run["run_id"] for run in runs] == sorted((run["run_id"] for run in runs), reverse=True)
    first_sync = runs[2]
    assert first_sync["status"] == "partial"
    assert first_sync["systems"]["billing"]["created"] > 0  # type: ignore[index]
    assert first_sync["duration_seconds"] is not None
    (latest,) = _json_lines(one_flow.output)
    assert latest["run_id"] == runs[1]["run_id"]
    assert table.exit_code == 0
    assert "AuthError: refused" in table.output


def test_status_shows_each_flow_last_run_lag_open_errors_and_lease(
    synced: Path, database_url: str
) -> None:
    store = Store(database_url)
    lease = FlowLease(
        store, "quote-to-cash", "replica-7", ttl=timedelta(minutes=5), heartbeat_seconds=60
    )
    assert lease.acquire()
    try:
        outcome = runner.invoke(app, ["status", "--config", str(synced), "--json"])
        table = runner.invoke(app, ["status", "--database-url", database_url])
    finally:
        lease.release()
        store.close()

    assert outcome.exit_code == 0, outcome.output
    quote_to_cash, backfill = json.loads(outcome.output)
    assert quote_to_cash["flow"] == "quote-to-cash"
    assert quote_to_cash["last_run"]["status"] == "succeeded"  # nothing new to read
    assert 0 <= quote_to_cash["lag_seconds"] < 120
    # The first run's invalid records are still open.
    assert quote_to_cash["open_errors"] == quote_to_cash["last_run"]["error_queue_active"] > 0
    assert quote_to_cash["lease_owner"] == "replica-7"
    assert backfill["flow"] == "billing-backfill"
    assert backfill["last_success_at"] is None
    assert backfill["lag_seconds"] is None
    assert table.exit_code == 0, table.output
    assert "never" in table.output
    assert "replica-7" in table.output


def test_status_of_an_empty_store_lists_the_configured_flows_as_never_run(
    tmp_path: Path, database_url: str
) -> None:
    with Sandboxes(SMALL) as sandboxes:
        config = write_serve_config(tmp_path / "revbridge.yaml", sandboxes, database_url)
    Store(database_url).close()  # created by `db upgrade`; nothing ran yet (`status` creates none)
    outcome = runner.invoke(app, ["status", "--config", str(config), "--json"])
    assert outcome.exit_code == 0, outcome.output
    (state,) = json.loads(outcome.output)
    assert state == {
        "flow": "quote-to-cash",
        "last_run": None,
        "last_success_at": None,
        "lag_seconds": None,
        "open_errors": 0,
        "lease_owner": None,
        "lease_expires_at": None,
    }
