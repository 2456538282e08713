"""`revbridge demo` ends with the discrepancies it seeds, the reconcile that finds them, and
the month's metrics with the leakage total."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from typer.testing import CliRunner

from sync.assurance.values import to_major, to_minor
from sync.cli.app import app
from sync.cli.demo import run_demo
from sync.cli.demo_assurance import EDITED_TOTAL
from sync.cli.sandboxes import SandboxSize
from sync.store.findings import FindingKind

SMALL = SandboxSize(accounts=6, orders=30, products=3, page_size=200)


def test_the_demo_reconcile_finds_the_seeded_discrepancies_and_metrics_total_the_leakage(
    tmp_path: Path,
) -> None:
    result = run_demo(tmp_path / "demo.db", SMALL)
    demo = result.assurance
    assert demo is not None
    assert demo.report is not None
    by_kind = defaultdict(list)
    for finding in demo.findings:
        by_kind[finding.kind].append(finding)
    (mismatch,) = by_kind[FindingKind.AMOUNT_MISMATCH]
    assert (mismatch.entity, mismatch.system) == ("order", "billing")
    assert mismatch.canonical_id is not None
    assert mismatch.canonical_id in demo.seeded[0]  # the order whose total was edited
    assert mismatch.actual_value == to_minor(EDITED_TOTAL, "USD")  # compared in cents
    assert isinstance(mismatch.expected_value, int)
    assert mismatch.amount_at_risk_minor == mismatch.expected_value - mismatch.actual_value
    (missing,) = by_kind[FindingKind.MISSING_IN_TARGET]
    assert (missing.entity, missing.system) == ("contact", "billing")
    # The leakage is exactly the open unbilled and mismatch amounts at risk, per currency.
    expected: dict[str, int] = defaultdict(int)
    for finding in by_kind[FindingKind.UNBILLED] + by_kind[FindingKind.AMOUNT_MISMATCH]:
        assert finding.currency is not None
        expected[finding.currency] += finding.amount_at_risk_minor or 0
    assert expected
    leakage = {f.currency: f.leakage for f in demo.report.by_currency if f.leakage}
    assert leakage == {currency: to_major(minor, currency) for currency, minor in expected.items()}


def test_the_demo_command_ends_with_the_findings_and_the_metrics_table(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        app, ["demo", "--database", str(tmp_path / "demo.db"), "--accounts", "6", "--orders", "30"]
    )
    assert outcome.exit_code == 0, outcome.output
    tail = outcome.stdout[outcome.stdout.index("behind revbridge's back") :]
    assert "reconciliation findings" in tail
    assert "amount_mismatch" in tail
    assert "revenue metrics" in tail
    assert "Leakage (open unbilled and amount-mismatch findings): " in tail
