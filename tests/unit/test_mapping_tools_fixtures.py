"""``revbridge mappings test``, ``check`` and ``schema``: fixtures, static checks, JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

from ruamel.yaml import YAML
from typer.testing import CliRunner

from mappings.loader import shipped_mapping_files
from sync.cli.app import app
from sync.tools.payload_values import field_changes, plain

runner = CliRunner()
SHIPPED_TESTS = shipped_mapping_files()[0].parent / "tests"
ACCOUNT_FIXTURE = SHIPPED_TESTS / "salesforce_account.yaml"


def test_shipped_fixtures_run_by_default_and_pass() -> None:
    cases = sum(
        len(list(YAML(typ="safe", pure=True).load_all(path.read_text(encoding="utf-8"))))
        for path in SHIPPED_TESTS.glob("*.yaml")
    )
    outcome = runner.invoke(app, ["mappings", "test"])
    assert outcome.exit_code == 0, outcome.output
    assert cases >= 8
    assert outcome.output.count("PASS ") == cases
    assert f"{cases} passed, 0 failed" in outcome.output


def test_a_wrong_expectation_fails_with_a_unified_diff(tmp_path: Path) -> None:
    fixture = tmp_path / "account.yaml"
    fixture.write_text(
        ACCOUNT_FIXTURE.read_text().replace("companyName: Northwind Traders", "companyName: NW")
    )
    outcome = runner.invoke(app, ["mappings", "test", str(fixture)], env={"COLUMNS": "200"})
    assert outcome.exit_code == 1, outcome.output
    assert "FAIL " in outcome.output
    assert "--- expected erp payload" in outcome.output
    assert '-  "companyName": "NW",' in outcome.output
    assert '+  "companyName": "Northwind Traders",' in outcome.output
    assert "0 passed, 1 failed" in outcome.output


def test_an_expected_error_that_does_not_happen_fails(tmp_path: Path) -> None:
    fixture = tmp_path / "account.yaml"
    text = ACCOUNT_FIXTURE.read_text()
    fixture.write_text(text[: text.index("expect:")] + "expect:\n  error: Type\n")
    outcome = runner.invoke(app, ["mappings", "test", str(fixture), "--json"])
    assert outcome.exit_code == 1, outcome.output
    (result,) = json.loads(outcome.output)["results"]
    assert result["passed"] is False
    assert "but the record mapped" in result["failures"][0]


def test_a_missing_xref_stand_in_fails_the_order_fixture(tmp_path: Path) -> None:
    fixture = tmp_path / "order.yaml"
    source = (SHIPPED_TESTS / "salesforce_order.yaml").read_text().split("\n---\n")[0]
    fixture.write_text(source.replace("salesforce: 01t5g0000000001AAA", "salesforce: 01t5g09AAA"))
    outcome = runner.invoke(app, ["mappings", "test", str(fixture), "--json"])
    assert outcome.exit_code == 1, outcome.output
    (result,) = json.loads(outcome.output)["results"]
    assert "01t5g0000000001AAA" in result["failures"][0]


def test_a_malformed_fixture_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    fixture = tmp_path / "bad.yaml"
    fixture.write_text("system: salesforce\nentity: account\ninput: {}\nexpect: {canonicl: {}}\n")
    outcome = runner.invoke(app, ["mappings", "test", str(fixture)])
    assert outcome.exit_code == 2
    assert "canonicl" in outcome.output


def test_check_of_the_shipped_files_finds_nothing() -> None:
    outcome = runner.invoke(app, ["mappings", "check", "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.output)["problems"] == []


def test_check_prints_every_problem_as_file_line_col(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("system: x\nentities:\n  order:\n\tobject: Order\n")
    other = tmp_path / "dup.yaml"
    other.write_text("system: y\nsystem: z\n")
    outcome = runner.invoke(app, ["mappings", "check", str(broken), str(other)])
    assert outcome.exit_code == 2
    assert f"{broken}:4:1: tab in indentation" in outcome.output
    assert f"{other}:2:" in outcome.output
    assert "2 problems in 2 mapping files" in outcome.output


def test_live_check_needs_a_config() -> None:
    outcome = runner.invoke(app, ["mappings", "check", "--live"])
    assert outcome.exit_code == 2
    assert "--config" in outcome.output


def test_schema_is_json_schema_and_can_be_written_to_a_file(tmp_path: Path) -> None:
    printed = runner.invoke(app, ["mappings", "schema"])
    assert printed.exit_code == 0
    schema = json.loads(printed.output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "entities" in schema["properties"]
    target = tmp_path / "mapping.schema.json"
    written = runner.invoke(app, ["mappings", "schema", "--output", str(target)])
    assert written.exit_code == 0
    assert json.loads(target.read_text()) == schema
    assert f"$schema={target}" in written.output


def test_numbers_compare_by_value_but_text_stays_text() -> None:
    assert plain(705) == plain(705.0)
    assert plain("705") != plain(705)


def test_field_changes_name_nested_paths() -> None:
    changes = field_changes({"lines": [{"qty": 1}], "a": 1}, {"lines": [{"qty": 2}], "b": 1})
    assert [str(change) for change in changes] == [
        "a: 1 -> null",
        "b: null -> 1",
        "lines.0.qty: 1 -> 2",
    ]
