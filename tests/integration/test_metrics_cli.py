"""`revbridge metrics` over a store seeded with hand-computed records, on both databases."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from sync.cli.app import app
from sync.store import Store
from sync.store.findings import Finding, FindingKind, Severity, record_findings
from sync.store.records import StoredRecord, save_records
from tests.unit.test_config_loader import MINIMAL, SECRETS

runner = CliRunner()
MODIFIED = datetime(2026, 11, 1, tzinfo=UTC)
# Markup, a terminal escape and a bidi override in a customer's name: shown as text.
HOSTILE_NAME = "[link=https://evil.test]Acme[/link] \x1b[31m<b>red</b>\u202e"
RATES = {
    "reporting_currency": "EUR",
    "rates": [
        {"currency": "USD", "rate": "0.5", "from": "2026-01-01"},
        {"currency": "USD", "rate": "0.9", "from": "2026-11-15"},
        {"currency": "GBP", "rate": "1.25", "from": "2026-01-01"},
    ],
}


def revenue_record(entity: str, record_id: str, **fields: Any) -> StoredRecord:
    source = {"system": "salesforce", "object": entity, "id": record_id}
    payload = {"id": record_id, "source": source, "source_modified_at": MODIFIED.isoformat()}
    return StoredRecord(record_id, entity, {**payload, **fields}, record_id, "salesforce",
                        entity, record_id, MODIFIED)  # fmt: skip


SEED = [
    revenue_record("account", "acct-1", name=HOSTILE_NAME, currency="USD"),
    # 3 seats at 2,400 a year each: MRR 3 x 2,400 / 12 = 600, ARR 7,200; new in November.
    revenue_record("subscription", "sub-1", account_id="acct-1", product_id="p", quantity="3",
            net_price="2400", currency="USD", start_date="2026-11-01", term_months=12),
    revenue_record("order", "ord-1", account_id="acct-1", status="activated",
            effective_date="2026-11-01", currency="USD", total="7200"),
    # Billed 1,800 in November, due Nov 15; 600 paid Nov 20 -> AR 1,200, 15 days past due.
    revenue_record("invoice", "inv-1", account_id="acct-1", order_id="ord-1", status="open",
            invoice_date="2026-11-01", due_date="2026-11-15", currency="USD",
            subtotal="1800", total="1800", amount_due="1200"),
    revenue_record("payment", "pay-1", account_id="acct-1", invoice_id="inv-1", amount="600",
            currency="USD", received_on="2026-11-20", status="succeeded"),
]  # fmt: skip


@dataclass
class Project:
    store: Store
    config: Path

    def metrics(self, *options: str) -> Result:
        return runner.invoke(app, ["metrics", "-c", str(self.config), *options])

    def configure(self, assurance: dict[str, Any]) -> None:
        document = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        self.config.write_text(yaml.safe_dump({**document, "assurance": assurance}), "utf-8")


def seed_metrics_store(store: Store) -> None:
    """The records above, and an open unbilled finding of 250.00 USD (the leakage)."""
    unbilled = Finding(
        FindingKind.UNBILLED,
        Severity.ERROR,
        "quote-to-cash",
        "order",
        "salesforce",
        "ord-9",
        currency="USD",
        amount_at_risk_minor=25_000,
    )
    drift = Finding(FindingKind.DRIFT, Severity.WARNING, "quote-to-cash", "account", "billing",
                    "acct-1", currency="USD", amount_at_risk_minor=99_900)  # fmt: skip
    with store.transaction() as connection:
        save_records(connection, SEED, run_id=1)
        record_findings(connection, [unbilled, drift], scope=[])


@pytest.fixture
def project(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    seed_metrics_store(store)
    config = tmp_path / "revbridge.yaml"
    config.write_text(MINIMAL + f"database_url: {store.url}\n", encoding="utf-8")
    return Project(store, config)


def test_metrics_json_holds_each_hand_computed_figure_and_the_reporting_currency(
    project: Project,
) -> None:
    project.configure(RATES)
    result = project.metrics("--period", "2026-11", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    usd = report["currencies"]["USD"]
    assert (report["period"], report["as_of"]) == ("2026-11", "2026-11-30")
    assert (usd["mrr"], usd["arr"], usd["new_arr"], usd["churned_arr"]) == (
        "600.00", "7200.00", "7200.00", "0.00"
    )  # fmt: skip
    assert (usd["bookings"], usd["billings"], usd["collections"]) == (
        "7200.00",
        "1800.00",
        "600.00",
    )
    assert usd["backlog"] == "5400.00"  # 7,200 ordered - 1,800 invoiced
    assert (usd["ar"], usd["ar_1_30"]) == ("1200.00", "1200.00")
    assert usd["dso"] == "20.0"  # 1,200 / 1,800 x 30
    assert usd["leakage"] == "250.00"  # the unbilled finding; drift is no leakage
    # In EUR at the rate in effect on Nov 30 (0.9, not January's 0.5).
    reporting = report["reporting"]
    assert (reporting["currency"], reporting["arr"], reporting["leakage"]) == (
        "EUR", "6480.00", "225.00"
    )  # fmt: skip
    assert report["backlog_by_customer"][0]["account"] == HOSTILE_NAME


def test_as_of_and_currency_options_take_the_rate_of_that_day_through_the_table(
    project: Project,
) -> None:
    project.configure(RATES)
    result = project.metrics("--period", "2026-11", "--as-of", "2026-11-14", "--currency",
                             "gbp", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    reporting = json.loads(result.stdout)["reporting"]
    # On Nov 14 one USD is 0.5 EUR and one GBP 1.25 EUR: 0.4 GBP; ARR 7,200 x 0.4 = 2,880.
    assert (reporting["currency"], reporting["arr"]) == ("GBP", "2880.00")


def test_the_table_shows_names_as_text_and_marks_the_reporting_column(project: Project) -> None:
    project.configure(RATES)
    result = project.metrics("--period", "2026-11")
    assert result.exit_code == 0, result.output
    assert "EUR (reporting)" in result.stdout
    assert "7200.00" in result.stdout
    assert "[link=https://evil.test]Acme[/link]" in result.stdout  # markup printed, not read
    assert "\x1b[31m" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "\\u001b[31m<b>red</b>\\u202e" in result.stdout


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--period", "2026-13"], "period '2026-13' names no month"),
        (["--period", "Nov"], "is not a month written YYYY-MM"),
        (["--period", "2026-11", "--currency", "XYZ"], "unknown currency 'XYZ'"),
        (["--period", "2026-11", "--as-of", "2026-10-01"], "is before the period 2026-11"),
        (["--period", "2026-11", "--currency", "JPY"], "no rate for USD into JPY on 2026-11-30"),
    ],
)
def test_operator_mistakes_are_one_line_and_exit_2(
    project: Project, options: list[str], message: str
) -> None:
    result = project.metrics(*options)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert message in result.output


def test_a_missing_rate_names_the_currency_and_date_and_exits_2(project: Project) -> None:
    project.configure({"reporting_currency": "EUR", "rates": [
        {"currency": "USD", "rate": "0.9", "from": "2026-12-01"}]})  # fmt: skip
    result = project.metrics("--period", "2026-11")
    assert result.exit_code == 2
    assert "no rate for USD into EUR on 2026-11-30" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_no_store_yet_is_one_line_and_exit_2(project: Project, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(text.replace(project.store.url, f"sqlite:///{missing}"), "utf-8")
    result = project.metrics("--period", "2026-11")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert not missing.exists()
