"""Reconcile's amounts at risk in the reporting currency, through the config's rates table."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import yaml

from sync.cli.sandboxes import write_sandbox_config
from sync.store.findings import open_findings
from tests.integration.test_reconcile_cli import Project, _unbilled_orders, project

__all__ = ["project"]  # the fixture, shared with the reconcile CLI tests


def _with_assurance(project: Project, section: dict[str, Any]) -> None:
    document = yaml.safe_load(project.config.read_text(encoding="utf-8"))
    document["assurance"] = section
    write_sandbox_config(project.config, document)


def test_amounts_at_risk_are_also_shown_in_the_reporting_currency(project: Project) -> None:
    _with_assurance(
        project,
        {
            "reporting_currency": "EUR",
            "rates": [
                {"currency": "USD", "rate": "0.5", "from": "2000-01-01"},
                {"currency": "USD", "rate": "0.92", "from": "2001-01-01"},
            ],
        },
    )
    expected = _unbilled_orders(project.store)
    findings = project.findings()
    assert expected
    assert {f["kind"] for f in findings} == {"unbilled"}
    # Each order's cents x 0.92 (the row in effect today), rounded half to even to euro cents.
    euro_cents = {
        cid: int((Decimal(cents) * Decimal("0.92")).quantize(Decimal(1), ROUND_HALF_EVEN))
        for cid, cents in expected.items()
    }
    assert {f["canonical_id"]: f["reporting_amount_at_risk"] for f in findings} == {
        cid: format(Decimal(cents).scaleb(-2), "f") for cid, cents in euro_cents.items()
    }
    assert {f["reporting_currency"] for f in findings} == {"EUR"}
    with project.store.engine.connect() as connection:
        stored = {f.finding.canonical_id: f.finding for f in open_findings(connection)}
    assert {cid: f.reporting_amount_minor for cid, f in stored.items()} == euro_cents


def test_a_currency_without_a_rate_stops_with_one_line_naming_it_and_records_nothing(
    project: Project,
) -> None:
    only_pounds = [{"currency": "GBP", "rate": "1.1", "from": "2000-01-01"}]
    _with_assurance(project, {"reporting_currency": "EUR", "rates": only_pounds})
    result = project.reconcile()
    assert result.exit_code == 2
    today = datetime.now(UTC).date()
    message = result.stderr.strip()
    assert "USD" in message
    assert today.isoformat() in message
    assert str(project.config) in message
    assert "nothing was recorded" in message
    assert len(message.splitlines()) == 1
    assert "Traceback" not in result.output
    with project.store.engine.connect() as connection:
        assert open_findings(connection) == []


def test_a_rate_that_starts_tomorrow_is_not_used_today(project: Project) -> None:
    tomorrow = date.fromordinal(datetime.now(UTC).date().toordinal() + 1)
    later = [{"currency": "USD", "rate": "0.9", "from": tomorrow.isoformat()}]
    _with_assurance(project, {"reporting_currency": "EUR", "rates": later})
    assert project.reconcile().exit_code == 2


def test_without_a_reporting_currency_the_reporting_columns_are_empty(project: Project) -> None:
    findings = project.findings()
    assert findings
    assert {(f["reporting_currency"], f["reporting_amount_at_risk"]) for f in findings} == {
        (None, None)
    }
