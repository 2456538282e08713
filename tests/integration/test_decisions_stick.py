"""Decisions stick over real runs: a backfill over the same unchanged records reopens nothing.

A record the sandbox seeds invalid fails to land. Ignored with a note, it stays ignored through
a backfill that reads it again unchanged; edited in Salesforce (still invalid), it fails afresh
and a new entry opens, linking to the ignored one.
"""

from __future__ import annotations

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
from sync.store.error_queue import ErrorRow, list_errors
from sync.store.schema import ErrorStatus

runner = CliRunner()
SIZE = SandboxSize(accounts=6, orders=40, products=4)


@pytest.fixture
def workspace(tmp_path: Path, database_url: str) -> Iterator[tuple[Sandboxes, Path]]:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for path in shipped_mapping_files():
        shutil.copy(path, mappings / path.name)
    with Sandboxes(SIZE) as sandboxes:
        document: dict[str, Any] = sandboxes.settings_document(database_url)
        document["mappings_dir"] = str(mappings)
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, document)
        yield sandboxes, config


def _invoke(*args: str) -> str:
    outcome = runner.invoke(app, list(args))
    assert outcome.exit_code == 0, outcome.output
    return outcome.output


def _entries(database_url: str, source_id: str) -> list[ErrorRow]:
    store = Store(database_url)
    with store.engine.connect() as connection:
        rows = [row for row in list_errors(connection, limit=None) if row.source_id == source_id]
    store.close()
    return sorted(rows, key=lambda row: row.id)


def _backfill(config: Path) -> dict[str, Any]:
    output = _invoke("backfill", "-c", str(config), "--since", "2020-01-01", "--json")
    return dict(json.loads(output.splitlines()[-1]))


def test_an_ignored_error_stays_closed_through_a_backfill_until_its_record_changes(
    workspace: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = workspace
    salesforce = sandboxes.salesforce
    _invoke("run", "-c", str(config), "--json")
    invalid = sorted(salesforce.invalid_record_ids)
    record_id = next(i for i in invalid if _entries(database_url, i))
    (entry,) = _entries(database_url, record_id)
    _invoke("errors", "ignore", str(entry.id), "--note", "test order, never billed",
            "-c", str(config))  # fmt: skip

    _backfill(config)

    (after,) = _entries(database_url, record_id)
    assert after.status is ErrorStatus.IGNORED
    assert after.attempts == entry.attempts

    salesforce.update_record(entry.source_object, record_id, {"Phone": "+1 555 0100"})
    _backfill(config)

    ignored, reopened = _entries(database_url, record_id)
    assert (ignored.id, ignored.status) == (entry.id, ErrorStatus.IGNORED)
    assert reopened.status is ErrorStatus.OPEN
    assert reopened.previous_id == entry.id
