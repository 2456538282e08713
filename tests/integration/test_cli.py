"""The ``revbridge`` command line, end to end on the sandboxes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.demo import run_demo
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from sync.store.schema import metadata

runner = CliRunner()
SMALL = SandboxSize(accounts=10, orders=60, products=6)


def test_demo_second_run_writes_only_the_changed_records(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo.db", SMALL)

    changed_records = {(c.object_name, c.record_id) for c in result.changes}
    assert len(changed_records) == 6  # 3 accounts, 1 product, 2 order lines (-> 2 orders)
    assert result.first.written > 100
    second = result.second.systems
    assert second["salesforce"].read == 6
    for target in ("billing", "erp"):
        assert second[target].updated == 6
        assert second[target].created == 0
    assert result.second.written == 12
    assert (tmp_path / "demo.db").exists()
    # Then finance bills five orders in the ERP, two paid in full and one in part; they land in
    # Salesforce Billing.
    assert result.receivables is not None
    receivables = result.receivables.by_entity
    assert (len(result.billed), sum(1 for b in result.billed if b.payment)) == (5, 3)
    assert receivables["invoice"]["salesforce"].created == 5
    assert receivables["payment"]["salesforce"].created == 3
    assert result.receivables.rejected == 0


def test_demo_command_prints_both_run_tables(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    outcome = runner.invoke(
        app, ["demo", "--database", str(database), "--accounts", "8", "--orders", "40"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "run 1: initial sync" in outcome.output
    assert "run 2: only what changed" in outcome.output
    assert "run 3: receivables, ERP to Salesforce" in outcome.output
    assert "canonical" in outcome.output

    listed = runner.invoke(
        app, ["errors", "list", "--database-url", f"sqlite:///{database}", "--json"]
    )
    assert listed.exit_code == 0, listed.output
    entries = [json.loads(line) for line in listed.output.splitlines()]
    assert entries
    assert all(entry["payload"] and entry["message"] for entry in entries)


def test_db_upgrade_reports_the_revision(database_url: str) -> None:
    outcome = runner.invoke(app, ["db", "upgrade", "--database-url", database_url])
    assert outcome.exit_code == 0, outcome.output
    store = Store(database_url)
    try:
        head = store.head_revision()
        assert store.current_revision() == head
    finally:
        store.close()
    assert f"revision {head}" in outcome.output


def test_run_with_a_missing_config_exits_2_with_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    outcome = runner.invoke(app, ["run", "--config", str(missing)])
    assert outcome.exit_code == 2
    assert "nope.yaml" in outcome.output


def test_run_with_an_unset_secret_variable_names_it(tmp_path: Path) -> None:
    config = tmp_path / "revbridge.yaml"
    config.write_text(
        "salesforce:\n  password: ${SF_PASSWORD_FOR_TEST}\n"
        "billing: {base_url: http://127.0.0.1:9, api_key: x}\n"
        "erp: {wsdl_url: x, account: a, consumer_key: k, consumer_secret: s, token_id: t, "
        "token_secret: u}\n"
    )
    outcome = runner.invoke(app, ["run", "--config", str(config)])
    assert outcome.exit_code == 2
    assert "SF_PASSWORD_FOR_TEST" in outcome.output


@pytest.fixture
def sandbox_config(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, dict[str, object]]]:
    with Sandboxes(SMALL) as sandboxes:
        document = sandboxes.settings_document(database_url)
        path = tmp_path / "revbridge.yaml"
        write_sandbox_config(path, document)
        yield path, document


def _secrets(document: dict[str, object]) -> list[str]:
    sections = {name: document[name] for name in ("salesforce", "billing", "erp")}
    names = {
        "password",
        "security_token",
        "client_secret",
        "api_key",
        "consumer_secret",
        "token_secret",
    }
    return [
        str(values[name])
        for values in sections.values()
        if isinstance(values, dict)
        for name in names
        if name in values
    ]


def test_run_output_logs_and_stored_rows_never_contain_secrets(
    sandbox_config: tuple[Path, dict[str, object]], database_url: str
) -> None:
    path, document = sandbox_config
    outcome = runner.invoke(app, ["--verbose", "run", "--config", str(path)])
    assert outcome.exit_code == 0, outcome.output
    secrets = _secrets(document)
    assert len(secrets) == 6
    store = Store(database_url)
    with store.engine.connect() as connection:
        stored = "\n".join(
            str(row)
            for table in metadata.sorted_tables
            for row in connection.execute(sa.select(table))
        )
    store.close()
    assert "ValidationError" in stored or "resolve" in stored  # the demo data has rejections
    for secret in secrets:
        assert secret not in outcome.output
        assert secret not in stored


def test_run_against_an_unreachable_billing_api_fails_with_exit_1(
    sandbox_config: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    path, document = sandbox_config
    text = path.read_text().replace(str(document["billing"]["base_url"]), "http://127.0.0.1:9")  # type: ignore[index]
    broken = tmp_path / "broken.yaml"
    broken.write_text(text + "retry: {attempts: 1, max_wait_seconds: 0.01}\n")
    outcome = runner.invoke(app, ["run", "--config", str(broken), "--json"])
    assert outcome.exit_code == 1
    summary = json.loads(outcome.output.splitlines()[-1])
    assert summary["status"] == "failed"
    assert "billing" in summary["message"]
