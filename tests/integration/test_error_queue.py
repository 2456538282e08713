"""The error queue end to end: deferral, retry with today's mappings, and the admin commands."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mappings.loader import shipped_mapping_files
from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from sync.store.error_queue import list_errors
from sync.store.schema import ErrorStage, ErrorStatus

runner = CliRunner()
SIZE = SandboxSize(accounts=15, orders=230, products=8)
PENDING_ORDER = "8015g0000000187AAA"
XBT_ACCOUNT = "0015g0000000015AAA"


@pytest.fixture
def workspace(tmp_path: Path, database_url: str) -> Iterator[tuple[Sandboxes, Path, Path]]:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for path in shipped_mapping_files():
        shutil.copy(path, mappings / path.name)
    with Sandboxes(SIZE) as sandboxes:
        assert PENDING_ORDER in sandboxes.salesforce.invalid_record_ids
        document: dict[str, Any] = sandboxes.settings_document(database_url)
        document["mappings_dir"] = str(mappings)
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, document)
        yield sandboxes, config, mappings


def _entries(database_url: str, **filters: Any) -> list[Any]:
    store = Store(database_url)
    with store.engine.connect() as connection:
        rows = list_errors(connection, limit=None, **filters)
    store.close()
    return rows


def _run(config: Path) -> dict[str, Any]:
    outcome = runner.invoke(app, ["run", "--config", str(config), "--json"])
    assert outcome.exit_code == 0, outcome.output
    return dict(json.loads(outcome.output.splitlines()[-1]))


def test_order_of_a_rejected_account_is_deferred_then_lands_once_the_account_is_fixed(
    workspace: tuple[Sandboxes, Path, Path], database_url: str
) -> None:
    sandboxes, config, _ = workspace
    salesforce = sandboxes.salesforce
    order_id = next(o["Id"] for o in salesforce.records("Order")
                    if o["Id"] not in salesforce.invalid_record_ids)  # fmt: skip
    salesforce.update_record("Order", order_id, {"AccountId": XBT_ACCOUNT})

    first = _run(config)

    assert first["entities"]["order"]["salesforce"]["deferred"] == 1
    deferred = [e for e in _entries(database_url) if e.source_id == order_id]
    assert [e.stage for e in deferred] == [ErrorStage.RESOLVE.value]
    assert order_id not in {o["external_id"] for o in sandboxes.billing.resources("orders")}

    salesforce.update_record("Account", XBT_ACCOUNT, {"CurrencyIsoCode": "USD"})
    second = _run(config)

    assert second["systems"]["billing"]["created"] == 2  # the account, then its order
    statuses = {e.source_id: e.status for e in _entries(database_url)}
    assert statuses[order_id] is ErrorStatus.RESOLVED
    assert statuses[XBT_ACCOUNT] is ErrorStatus.RESOLVED


def test_retry_rereads_the_record_and_applies_the_fixed_mapping(
    workspace: tuple[Sandboxes, Path, Path], database_url: str
) -> None:
    sandboxes, config, mappings = workspace
    _run(config)
    (entry,) = [e for e in _entries(database_url) if e.source_id == PENDING_ORDER]
    assert entry.stage == ErrorStage.MAP.value
    orders_before = len(sandboxes.billing.resources("orders"))

    salesforce_yaml = mappings / "salesforce.yaml"
    text = salesforce_yaml.read_text()
    assert "Cancelled: cancelled" in text
    salesforce_yaml.write_text(
        text.replace("Cancelled: cancelled", "Cancelled: cancelled, Pending: draft")
    )
    outcome = runner.invoke(app, ["errors", "retry", str(entry.id), "--config", str(config)])

    assert outcome.exit_code == 0, outcome.output
    assert len(sandboxes.billing.resources("orders")) == orders_before + 1
    (after,) = [e for e in _entries(database_url) if e.source_id == PENDING_ORDER]
    assert after.status is ErrorStatus.RESOLVED


def test_admin_commands_list_show_ignore_resolve_and_export(
    workspace: tuple[Sandboxes, Path, Path], database_url: str
) -> None:
    _, config, _ = workspace
    _run(config)
    entries = _entries(database_url)
    assert len(entries) == 4
    db = ["--database-url", database_url]

    listed = runner.invoke(app, ["errors", "list", *db, "--entity", "account", "--json"])
    assert [json.loads(line)["source_id"] for line in listed.output.splitlines()] == [XBT_ACCOUNT]
    by_class = runner.invoke(app, ["errors", "list", *db, "--class", "ValidationError", "--json"])
    assert len(by_class.output.splitlines()) == 3
    shown = runner.invoke(app, ["errors", "show", str(entries[0].id), *db])
    assert entries[0].source_id in shown.output
    assert runner.invoke(app, ["errors", "show", "9999", *db]).exit_code == 1

    account_entry = next(e for e in entries if e.source_id == XBT_ACCOUNT)
    ignored = runner.invoke(app, ["errors", "ignore", str(account_entry.id), *db])
    assert ignored.exit_code == 0, ignored.output
    refused = runner.invoke(app, ["errors", "resolve", *db])
    assert refused.exit_code == 2
    resolved = runner.invoke(app, ["errors", "resolve", "--all", "--entity", "order", *db])
    assert "3 entries marked resolved" in resolved.output
    statuses = sorted(e.status.value for e in _entries(database_url))
    assert statuses == ["ignored", "resolved", "resolved", "resolved"]

    exported = runner.invoke(app, ["errors", "export", *db, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert len(rows) == 4
    assert all(json.loads(row["payload"])["Id"] == row["source_id"] for row in rows)
    newer = runner.invoke(app, ["errors", "export", *db, "--older-than", "1d"])
    assert newer.output == ""
