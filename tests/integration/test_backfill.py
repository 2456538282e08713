"""``revbridge backfill``: a window of history, its own cursors, resumable, dry-runnable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from sync.store.schema import cursors

runner = CliRunner()


@pytest.fixture
def configured(tmp_path: Path, database_url: str) -> Iterator[tuple[Sandboxes, Path]]:
    with Sandboxes(SandboxSize(accounts=8, orders=40, products=5)) as sandboxes:
        document: dict[str, Any] = sandboxes.settings_document(database_url)
        document["retry"] = {"attempts": 1, "max_wait_seconds": 0.01}
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, document)
        yield sandboxes, config


def _json(outcome: Any) -> dict[str, Any]:
    assert outcome.exit_code in (0, 1), outcome.output
    return dict(json.loads(outcome.output.splitlines()[-1]))


def _cursor_rows(database_url: str) -> list[tuple[str, str, str]]:
    store = Store(database_url)
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(cursors.c.flow, cursors.c.entity, cursors.c.position))
        found = sorted((row.flow, row.entity, str(row.position)) for row in rows)
    store.close()
    return found


def _stamp(record: dict[str, Any]) -> datetime:
    return datetime.strptime(record["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def test_backfill_leaves_the_incremental_cursor_alone_and_rewrites_nothing_unchanged(
    configured: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = configured
    assert runner.invoke(app, ["run", "-c", str(config)]).exit_code == 0
    incremental = [row for row in _cursor_rows(database_url) if ":backfill:" not in row[0]]
    writes = sum(sandboxes.billing.writes.values())

    summary = _json(runner.invoke(app, ["backfill", "-c", str(config), "--since", "2026-01-01",
                                        "--json"]))  # fmt: skip

    assert summary["status"] in {"succeeded", "partial"}
    assert ":backfill:20260101T000000-now" in summary["flow"]
    assert summary["entities"]["account"]["salesforce"]["read"] == 8
    assert sum(sandboxes.billing.writes.values()) == writes
    after = _cursor_rows(database_url)
    assert [row for row in after if ":backfill:" not in row[0]] == incremental
    assert any(":backfill:" in row[0] for row in after)


def test_backfill_reads_only_the_window(
    configured: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = configured
    accounts = sorted(sandboxes.salesforce.records("Account"), key=_stamp)
    until = _stamp(accounts[3])
    inside = sum(1 for account in accounts if _stamp(account) <= until)
    assert inside < len(accounts)

    summary = _json(runner.invoke(app, ["backfill", "-c", str(config), "--since", "2026-01-01",
                                        "--until", until.isoformat(), "--json"]))  # fmt: skip

    assert summary["entities"]["account"]["salesforce"]["read"] == inside
    assert len(sandboxes.billing.resources("customers")) <= inside


def test_failed_backfill_resumes_from_its_own_cursor(
    configured: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = configured
    sandboxes.billing.inject_fault(503, times=1000)
    failed = _json(runner.invoke(app, ["backfill", "-c", str(config), "--since", "2026-01-01",
                                       "--json"]))  # fmt: skip
    assert failed["status"] == "failed"
    sandboxes.billing.clear_faults()

    shown = runner.invoke(app, ["backfill", "-c", str(config), "--resume", str(failed["run_id"])])

    assert shown.exit_code == 0, shown.output
    assert len(sandboxes.billing.resources("customers")) == 7  # 8 accounts, one invalid
    assert len(sandboxes.billing.resources("orders")) > 30


def test_backfill_dry_run_writes_nothing(
    configured: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = configured
    assert runner.invoke(app, ["db", "upgrade", "--database-url", database_url]).exit_code == 0
    outcome = runner.invoke(app, ["backfill", "-c", str(config), "--since", "2026-01-01",
                                  "--dry-run"])  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert "nothing was written" in outcome.output
    assert sandboxes.billing.resources("customers") == []
    assert _cursor_rows(database_url) == []


def test_backfill_refuses_a_window_that_ends_before_it_starts(
    configured: tuple[Sandboxes, Path],
) -> None:
    _, config = configured
    outcome = runner.invoke(app, ["backfill", "-c", str(config), "--since", "2026-02-01",
                                  "--until", "2026-01-01"])  # fmt: skip
    assert outcome.exit_code == 2
    assert "--until must be later than --since" in outcome.output
