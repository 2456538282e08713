"""``revbridge run --dry-run`` plans creates and updates with field diffs and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from sync.store.schema import metadata

runner = CliRunner()


@pytest.fixture
def configured(tmp_path: Path, database_url: str) -> Iterator[tuple[Sandboxes, Path]]:
    with Sandboxes(SandboxSize(accounts=6, orders=20, products=4)) as sandboxes:
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, sandboxes.settings_document(database_url))
        yield sandboxes, config


def _store_snapshot(database_url: str) -> list[str]:
    store = Store(database_url)
    with store.engine.connect() as connection:
        rows = [f"{t.name}:{row}" for t in metadata.sorted_tables
                for row in connection.execute(sa.select(t))]  # fmt: skip
    store.close()
    return rows


def test_dry_run_before_the_first_sync_plans_creates_and_writes_nothing(
    configured: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = configured
    assert runner.invoke(app, ["db", "upgrade", "--database-url", database_url]).exit_code == 0
    before = _store_snapshot(database_url)

    outcome = runner.invoke(app, ["run", "--config", str(config), "--dry-run", "--json"])

    assert outcome.exit_code == 0, outcome.output
    plan = json.loads(outcome.output)
    creates = {(w["entity"], w["system"]) for w in plan["writes"] if w["action"] == "create"}
    assert {("account", "billing"), ("account", "erp"), ("product", "erp")} <= creates
    assert sandboxes.billing.resources("customers") == []
    assert sandboxes.erp.records == {}
    assert _store_snapshot(database_url) == before


def test_dry_run_shows_the_field_diff_of_a_changed_record(
    configured: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = configured
    assert runner.invoke(app, ["run", "--config", str(config)]).exit_code == 0
    account = sandboxes.salesforce.records("Account")[0]
    sandboxes.salesforce.update_record("Account", account["Id"], {"Phone": "+44 20 7946 0000"})
    writes_before = sum(sandboxes.billing.writes.values())
    before = _store_snapshot(database_url)

    outcome = runner.invoke(app, ["run", "--config", str(config), "--dry-run", "--json"])

    assert outcome.exit_code == 0, outcome.output
    writes = json.loads(outcome.output)["writes"]
    assert {(w["system"], w["action"], w["source_id"]) for w in writes} == {
        ("billing", "update", account["Id"]),
        ("erp", "update", account["Id"]),
    }
    billing = next(w for w in writes if w["system"] == "billing")
    assert billing["diffs"] == [["phone", account["Phone"], "+44 20 7946 0000"]]
    assert sum(sandboxes.billing.writes.values()) == writes_before
    assert _store_snapshot(database_url) == before
    shown = runner.invoke(app, ["run", "--config", str(config), "--dry-run"])
    assert "+44 20 7946 0000" in shown.output
    assert "nothing was written" in shown.output


def test_dry_run_on_a_store_never_created_exits_0_and_creates_nothing(tmp_path: Path) -> None:
    with Sandboxes(SandboxSize(accounts=3, orders=6, products=3)) as sandboxes:
        config = tmp_path / "revbridge.yaml"
        database = tmp_path / "fresh.db"
        write_sandbox_config(config, sandboxes.settings_document(f"sqlite:///{database}"))

        outcome = runner.invoke(app, ["run", "--config", str(config), "--dry-run", "--json"])

        assert outcome.exit_code == 0, outcome.output
        plan = json.loads(outcome.output)
        assert {w["entity"] for w in plan["writes"]} >= {"account", "contact", "order"}
        assert plan["status"] == "partial"  # the seeded bad records would go to the queue
        assert not database.exists()
        assert sandboxes.billing.resources("customers") == []
        shown = runner.invoke(app, ["backfill", "--config", str(config), "--since", "2000-01-01",
                                    "--dry-run", "--json"])  # fmt: skip
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["writes"]
        assert not database.exists()
