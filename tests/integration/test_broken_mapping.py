"""A broken mapping stops ``revbridge run`` before anything is read or written anywhere."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from mappings.loader import shipped_mapping_files
from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config

runner = CliRunner()
SMALL = SandboxSize(accounts=3, orders=5, products=2, invalid_records=False)


def _break(path: Path, old: str, new: str) -> tuple[int, int]:
    """Replace the one ``old`` with ``new``; return the 1-based line and column where it starts."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not unique in {path.name}"
    before = text[: text.index(old)]
    path.write_text(text.replace(old, new), encoding="utf-8")
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


@pytest.fixture
def broken_mappings(tmp_path: Path) -> tuple[Path, list[str]]:
    """Shipped mappings with three mistakes; the ``file:line:col: message`` each must produce."""
    folder = tmp_path / "mappings"
    folder.mkdir()
    for path in shipped_mapping_files():
        shutil.copy(path, folder / path.name)
    salesforce, billing, erp = (
        folder / f"{name}.yaml" for name in ("salesforce", "billing", "erp")
    )
    # The meaning stage (canonical fields) runs on the files whose spec stage passed.
    line, col = _break(erp, "tranDate: {path: effective_date,", "tranDate: {path: effective_dat,")
    expected = [
        f"{erp}:{line}:{col + 17}: unknown canonical field 'effective_dat' on order; "
        "did you mean 'effective_date'?"
    ]
    line, col = _break(
        salesforce, "phone: {path: Phone}\n      website", "phone: {pth: Phone}\n      website"
    )
    expected.append(f"{salesforce}:{line}:{col + 8}: unknown key 'pth'; did you mean 'path'?")
    order_customer = "ref: account, required: true}\n      number: {path: order_number}"
    line, col = _break(billing, order_customer, order_customer.replace("account", "acount"))
    expected.append(f"{billing}:{line}:{col + 5}: ref to unknown canonical entity 'acount'")
    return folder, expected


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SMALL) as running:
        yield running


def _tables(database_url: str) -> list[str]:
    engine = sa.create_engine(database_url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_broken_mapping_stops_the_run_with_exit_2_listing_every_error(
    broken_mappings: tuple[Path, list[str]],
    sandboxes: Sandboxes,
    database_url: str,
    tmp_path: Path,
) -> None:
    folder, expected = broken_mappings
    config = tmp_path / "revbridge.yaml"
    write_sandbox_config(
        config, {**sandboxes.settings_document(database_url), "mappings_dir": str(folder)}
    )
    salesforce_calls = sandboxes.salesforce.api_calls

    outcome = runner.invoke(app, ["run", "--config", str(config)])

    assert outcome.exit_code == 2, outcome.output
    output = "".join(outcome.output.split())  # rich wraps long lines, even inside words
    for problem in expected:
        assert "".join(problem.split()) in output, f"missing {problem!r} in:\n{outcome.output}"
    assert sandboxes.salesforce.api_calls == salesforce_calls
    assert sandboxes.billing.calls == 0
    assert sandboxes.erp.calls == 0
    assert sum(sandboxes.erp.upsert_count.values()) == 0
    assert _tables(database_url) == []
