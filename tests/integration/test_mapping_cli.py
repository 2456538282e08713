"""``revbridge mappings check --live / preview / diff`` against the sandboxes and a real store."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from mappings.loader import shipped_mapping_files
from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store.database import create_store_engine
from sync.store.schema import metadata

runner = CliRunner()
SMALL = SandboxSize(accounts=4, orders=6, products=4, invalid_records=False)
ORDER_ID = "8015g0000000001AAA"


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SMALL) as running:
        yield running


def _config(tmp_path: Path, sandboxes: Sandboxes, url: str, mappings_dir: Path | None) -> Path:
    document = sandboxes.settings_document(url)
    if mappings_dir is not None:
        document["mappings_dir"] = str(mappings_dir)
    path = tmp_path / f"revbridge-{len(list(tmp_path.glob('revbridge-*.yaml')))}.yaml"
    write_sandbox_config(path, document)
    return path


def _copy_mappings(folder: Path, replacements: dict[str, tuple[str, str]]) -> Path:
    folder.mkdir()
    for path in shipped_mapping_files():
        text = path.read_text(encoding="utf-8")
        if path.name in replacements:
            old, new = replacements[path.name]
            assert old in text, f"{old!r} not in {path.name}; update this test"
            text = text.replace(old, new, 1)  # the first match: accounts come first
        (folder / path.name).write_text(text, encoding="utf-8")
    return folder


def _store_rows(url: str) -> list[str]:
    engine = create_store_engine(url)
    with engine.connect() as connection:
        rows = [
            f"{table.name}: {row}"
            for table in metadata.sorted_tables
            for row in connection.execute(sa.select(table))
        ]
    engine.dispose()
    return sorted(rows)


def _sandbox_state(sandboxes: Sandboxes) -> tuple[Any, ...]:
    return (
        dict(sandboxes.billing.writes),
        dict(sandboxes.erp.upsert_count),
        json.dumps(sandboxes.salesforce.records, sort_keys=True, default=str),
    )


def _preview_args(config: Path) -> list[str]:
    return [
        "mappings",
        "preview",
        "-c",
        str(config),
        "--object",
        "Order",
        "--id",
        ORDER_ID,
        "--json",
    ]


def _commit_all(folder: Path) -> None:
    """Make ``folder`` a git repository with its files in one commit."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    commit = ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "mappings"]
    for args in (["init", "-q"], ["add", "."], commit):
        subprocess.run([git, "-C", str(folder), *args], check=True)


def _sync(config: Path) -> None:
    outcome = runner.invoke(app, ["run", "--config", str(config)])
    assert outcome.exit_code == 0, outcome.output


def test_live_check_names_each_wrong_field_at_its_line(
    tmp_path: Path, sandboxes: Sandboxes
) -> None:
    broken = _copy_mappings(
        tmp_path / "maps",
        {"salesforce.yaml": ("{path: Phone}", "{path: Fone}"), "erp.yaml": ("tranId:", "tranIdx:")},
    )
    config = _config(tmp_path, sandboxes, f"sqlite:///{tmp_path / 'x.db'}", broken)

    outcome = runner.invoke(app, ["mappings", "check", "--live", "--config", str(config)])

    assert outcome.exit_code == 2, outcome.output  # invalid mappings, as `check` exits
    lines = outcome.output.splitlines()
    sf_lines = (broken / "salesforce.yaml").read_text().splitlines()
    sf_line = next(number for number, text in enumerate(sf_lines, 1) if "Fone" in text)
    assert any(
        line.startswith(f"{broken / 'salesforce.yaml'}:{sf_line}:")
        and "Salesforce Account has no field 'Fone'" in line
        for line in lines
    ), outcome.output
    assert any("ERP SalesOrder has no field 'tranIdx'" in line for line in lines)
    assert "billing: skipped" in outcome.output


def test_live_check_refuses_writing_a_salesforce_billing_roll_up(
    tmp_path: Path, sandboxes: Sandboxes
) -> None:
    broken = _copy_mappings(
        tmp_path / "maps",
        {"salesforce.yaml": ("Revbridge_Balance__c: {path", "blng__Balance__c: {path")},
    )
    config = _config(tmp_path, sandboxes, f"sqlite:///{tmp_path / 'x.db'}", broken)

    outcome = runner.invoke(app, ["mappings", "check", "--live", "--config", str(config)])

    assert outcome.exit_code == 2, outcome.output  # invalid mappings, as `check` exits
    sf_lines = (broken / "salesforce.yaml").read_text().splitlines()
    at = next(number for number, text in enumerate(sf_lines, 1) if "blng__Balance__c:" in text)
    (problem,) = [line for line in outcome.output.splitlines() if "salesforce.yaml:" in line]
    assert problem.startswith(f"{broken / 'salesforce.yaml'}:{at}:")
    assert "Salesforce blng__Invoice__c.blng__Balance__c is read-only" in problem


def test_live_check_of_the_shipped_mappings_passes_and_skips_billing(
    tmp_path: Path, sandboxes: Sandboxes
) -> None:
    config = _config(tmp_path, sandboxes, f"sqlite:///{tmp_path / 'x.db'}", None)
    outcome = runner.invoke(app, ["mappings", "check", "--live", "-c", str(config), "--json"])
    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.output)
    assert report["problems"] == []
    assert report["notes"] == ["billing: skipped, the system publishes no field metadata"]


def test_preview_before_any_sync_lists_the_unresolved_refs(
    tmp_path: Path, sandboxes: Sandboxes
) -> None:
    database = tmp_path / "never.db"
    config = _config(tmp_path, sandboxes, f"sqlite:///{database}", None)
    outcome = runner.invoke(app, _preview_args(config))
    assert outcome.exit_code == 0, outcome.output
    shown = json.loads(outcome.output)
    assert shown["canonical"]["source"]["id"] == ORDER_ID
    assert {"account", "product"} <= {ref["entity"] for ref in shown["unresolved_refs"]}
    assert shown["canonical"]["account_id"].startswith("<unresolved 001")
    assert not database.exists()


def test_preview_after_a_sync_resolves_refs_and_writes_nothing(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str
) -> None:
    config = _config(tmp_path, sandboxes, database_url, None)
    _sync(config)
    rows, state = _store_rows(database_url), _sandbox_state(sandboxes)

    outcome = runner.invoke(app, _preview_args(config))

    assert outcome.exit_code == 0, outcome.output
    shown = json.loads(outcome.output)
    assert shown["unresolved_refs"] == []
    assert set(shown["payloads"]) == {"billing", "erp"}
    assert shown["payloads"]["billing"]["customer"].startswith("cus_")
    assert shown["payloads"]["erp"]["externalId"] == shown["canonical"]["id"]
    assert _store_rows(database_url) == rows
    assert _sandbox_state(sandboxes) == state


def test_preview_of_an_unknown_object_exits_2(tmp_path: Path, sandboxes: Sandboxes) -> None:
    config = _config(tmp_path, sandboxes, f"sqlite:///{tmp_path / 'x.db'}", None)
    outcome = runner.invoke(
        app, ["mappings", "preview", "-c", str(config), "--object", "Ordr", "--id", ORDER_ID]
    )
    assert outcome.exit_code == 2
    assert "mapped objects" in outcome.output


def test_diff_counts_the_payloads_a_target_mapping_change_would_alter(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str
) -> None:
    _sync(_config(tmp_path, sandboxes, database_url, None))
    changed = _copy_mappings(
        tmp_path / "new", {"billing.yaml": ("phone: {path: phone}", "phone: {path: website}")}
    )
    config = _config(tmp_path, sandboxes, database_url, changed)
    rows = _store_rows(database_url)
    old = str(shipped_mapping_files()[0].parent)

    outcome = runner.invoke(app, ["mappings", "diff", "--old", old, "-c", str(config), "--json"])

    assert outcome.exit_code == 0, outcome.output
    impacts = {(i["entity"], i["system"]): i for i in json.loads(outcome.output)["impacts"]}
    accounts = impacts[("account", "billing")]
    assert accounts["records"] == SMALL.accounts
    assert accounts["changed"] == SMALL.accounts
    assert impacts[("account", "erp")]["changed"] == 0
    assert impacts[("order", "billing")]["changed"] == 0
    assert impacts[("account", "canonical")]["changed"] == 0
    assert "phone:" in accounts["samples"][0]["changes"][0]
    assert _store_rows(database_url) == rows
    args = ["mappings", "diff", "--old", old, "-c", str(config), "--exit-code"]
    with_code = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert with_code.exit_code == 1, with_code.output
    assert "billing payload" in with_code.output


def test_diff_against_a_git_revision_reads_the_old_files_from_git(
    tmp_path: Path, sandboxes: Sandboxes
) -> None:
    database_url = f"sqlite:///{tmp_path / 'x.db'}"
    _sync(_config(tmp_path, sandboxes, database_url, None))
    folder = _copy_mappings(tmp_path / "repo", {})
    _commit_all(folder)
    billing = folder / "billing.yaml"
    account_phone = ("phone: {path: phone}", "phone: {path: name}", 1)
    billing.write_text(billing.read_text().replace(*account_phone))
    config = _config(tmp_path, sandboxes, database_url, folder)

    args = ["mappings", "diff", "--against", "HEAD", "-c", str(config), "--json"]
    outcome = runner.invoke(app, args)

    assert outcome.exit_code == 0, outcome.output
    impacts = {(i["entity"], i["system"]): i for i in json.loads(outcome.output)["impacts"]}
    assert impacts[("account", "billing")]["changed"] == SMALL.accounts
    missing = runner.invoke(app, ["mappings", "diff", "--against", "nope", "-c", str(config)])
    assert missing.exit_code == 2
    assert "nope" in missing.output


# The shipped mappings as the skeleton's format version 1 wrote them: child lists as
# `each: CHILDREN` with `entity:` or inline `fields:`.
_NESTED_V2 = "        path: lines\n        each:"
_NESTED_V1 = "        each: lines\n        fields:"
VERSION_1 = {
    "salesforce.yaml": [
        ("version: 2", "version: 1"),
        ("{path: OrderItems, each: order_line", "{each: OrderItems, entity: order_line"),
    ],
    "billing.yaml": [("version: 2", "version: 1"), (_NESTED_V2, _NESTED_V1)],
    "erp.yaml": [("version: 2", "version: 1"), (_NESTED_V2, _NESTED_V1)],
}


def test_diff_against_a_revision_in_format_version_1_counts_only_real_changes(
    tmp_path: Path, sandboxes: Sandboxes
) -> None:
    database_url = f"sqlite:///{tmp_path / 'x.db'}"
    _sync(_config(tmp_path, sandboxes, database_url, None))
    folder = _copy_mappings(tmp_path / "repo", {})
    for name, shapes in VERSION_1.items():
        text = (folder / name).read_text()
        for new, old in shapes:
            assert new in text, f"{new!r} not in {name}; update this test"
            text = text.replace(new, old)
        (folder / name).write_text(text)
    _commit_all(folder)
    _copy_mappings(
        tmp_path / "v2", {"billing.yaml": ("phone: {path: phone}", "phone: {path: name}")}
    )
    for path in (tmp_path / "v2").iterdir():
        shutil.copy(path, folder / path.name)
    config = _config(tmp_path, sandboxes, database_url, folder)

    outcome = runner.invoke(
        app, ["mappings", "diff", "--against", "HEAD", "-c", str(config), "--json"]
    )

    assert outcome.exit_code == 0, outcome.output
    changed = {
        (i["entity"], i["system"]): i["changed"] for i in json.loads(outcome.output)["impacts"]
    }
    assert changed.pop(("account", "billing")) == SMALL.accounts
    assert changed, "the diff compared nothing"
    assert set(changed.values()) == {0}, changed  # the format change alone alters no output


def test_diff_without_a_store_exits_2_and_creates_none(tmp_path: Path) -> None:
    database = tmp_path / "absent.db"
    old = str(shipped_mapping_files()[0].parent)
    outcome = runner.invoke(
        app, ["mappings", "diff", "--old", old, "--database-url", f"sqlite:///{database}"]
    )
    assert outcome.exit_code == 2
    assert "no state store" in outcome.output
    assert not database.exists()
