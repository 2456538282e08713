"""Records whose text `illegal_characters: strip` cleaned are counted per entity and system in
the run summary, stored with the run, and warned about under the run's table; both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from mappings.mapping_set import MappingSet
from sync.cli.run_footer import run_report
from sync.cli.sandboxes import Sandboxes
from sync.store import Store
from sync.store.runs import recent_runs
from sync.store.schema import RunStatus
from tests.integration.cpq_harness import cpq_sandboxes
from tests.integration.test_hostile_records import (
    HOSTILE,
    SIZE,
    _accounts,
    _rename_through_rest,
    _run,
    _stripping_mappings,
)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def test_a_stripped_account_is_counted_stored_and_warned_about(
    sandboxes: Sandboxes, store: Store, tmp_path: Path
) -> None:
    stripping = _stripping_mappings(tmp_path)
    clean = _run(sandboxes, store, stripping)
    assert clean.stripped == {}, "nothing to strip, nothing counted"
    _rename_through_rest(sandboxes, str(_accounts(sandboxes)[0]["Id"]), HOSTILE)

    summary = _run(sandboxes, store, stripping)

    assert summary.status is RunStatus.SUCCEEDED, summary.message
    assert summary.stripped == {"account": {"canonical": 1}}
    assert summary.counts("account", "canonical").stripped == 1
    assert summary.to_json()["stripped"] == {"account": {"canonical": 1}}
    with store.engine.connect() as connection:
        [stored] = recent_runs(connection, limit=1)
    assert stored.stats["entities"]["account"]["canonical"]["stripped"] == 1
    terminal = Console(width=100, record=True, force_terminal=False)
    terminal.print(run_report(summary, "run"))
    lines = terminal.export_text().splitlines()
    [warning] = [line for line in lines if line.startswith("warning:")]
    assert warning == (
        "warning: text stripped of illegal characters (illegal_characters: strip): "
        "account 1 in canonical"
    )


def test_a_run_that_strips_nothing_shows_no_warning(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    summary = _run(sandboxes, store, mapping_set)

    terminal = Console(width=100, record=True, force_terminal=False)
    terminal.print(run_report(summary, "run"))
    assert "warning:" not in terminal.export_text()
    assert summary.to_json()["stripped"] == {}
