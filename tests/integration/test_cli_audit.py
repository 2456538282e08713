"""The CLI's resolve and ignore take --note and record the OS user; `revbridge audit list`."""

from __future__ import annotations

import csv
import getpass
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.audit import cli_actor
from sync.store import Store
from sync.store.error_queue import list_errors
from tests.console.error_rows import error_values, insert_errors

runner = CliRunner()


@pytest.fixture
def queued(store: Store, database_url: str) -> list[str]:
    """Three open entries; the --database-url option that reaches them."""
    with store.transaction() as connection:
        insert_errors(connection, [error_values(n) for n in range(3)])
    return ["--database-url", database_url]


def test_ignore_with_a_note_is_audited_as_the_os_user(store: Store, queued: list[str]) -> None:
    note = '=HYPERLINK("http://x") test orders'
    ignored = runner.invoke(app, ["errors", "ignore", "1", "2", "--note", note, *queued])
    assert ignored.exit_code == 0, ignored.output

    listed = runner.invoke(app, ["audit", "list", "--json", *queued])
    (entry,) = [json.loads(line) for line in listed.output.splitlines()]
    assert (entry["actor"], entry["actor_kind"]) == (getpass.getuser(), "cli_os_user")
    assert (entry["action"], entry["note"]) == ("error.ignore", note)
    assert sorted(ref["error_id"] for ref in entry["records"]) == [1, 2]
    with store.engine.connect() as connection:
        closed = {row.id: row.closed_by for row in list_errors(connection, limit=None)}
    assert closed == {1: cli_actor().name, 2: cli_actor().name, 3: None}

    as_csv = runner.invoke(app, ["audit", "list", "--format", "csv", *queued])
    (row,) = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert row["note"].startswith("'=")  # a spreadsheet shows it, never runs it
    table = runner.invoke(app, ["audit", "list", *queued])
    assert "error.ignore" in table.output


def test_resolve_without_a_note_still_works_for_old_scripts(
    store: Store, queued: list[str]
) -> None:
    resolved = runner.invoke(app, ["errors", "resolve", "--all", *queued])
    assert "3 entries marked resolved" in resolved.output

    listed = runner.invoke(app, ["audit", "list", "--json", "--action", "error.resolve", *queued])
    (entry,) = [json.loads(line) for line in listed.output.splitlines()]
    assert entry["note"] is None
    assert len(entry["records"]) == 3


def test_audit_list_filters_by_record_and_actor(store: Store, queued: list[str]) -> None:
    runner.invoke(app, ["errors", "ignore", "1", "--note", "a", *queued])
    runner.invoke(app, ["errors", "resolve", "2", "--note", "b", *queued])

    by_record = runner.invoke(app, ["audit", "list", "--json", "--record", "c-1", *queued])
    by_other = runner.invoke(app, ["audit", "list", "--json", "--actor", "nobody", *queued])
    assert [json.loads(line)["note"] for line in by_record.output.splitlines()] == ["b"]
    assert by_other.output == ""


def test_audit_list_without_a_store_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nothing-here.db'}"
    outcome = runner.invoke(app, ["audit", "list", "--database-url", missing])
    assert outcome.exit_code == 2
    assert "Traceback" not in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1


@pytest.mark.parametrize("age", ["999999w", "7 days", "-1d"])
def test_an_impossible_age_is_one_line_and_exit_2(queued: list[str], age: str) -> None:
    outcome = runner.invoke(app, ["errors", "list", "--older-than", age, *queued])
    assert outcome.exit_code == 2
    assert "Traceback" not in outcome.output
    assert "age" in outcome.output
