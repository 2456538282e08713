"""`run --dry-run` shows the downstream deletes a propagate policy would make."""

from __future__ import annotations

from rich.console import Console

from sync.cli.report import dry_run_tables
from sync.engine.dry_run import DryRunPlan, PlannedDelete


def _rendered(plan: DryRunPlan) -> str:
    console = Console(width=120, record=True)
    console.print(dry_run_tables(plan, samples=5))
    return console.export_text()


def test_planned_deletes_are_listed_with_target_ids() -> None:
    plan = DryRunPlan(deletes=[
        PlannedDelete("order", "billing", "801A", "c-1", "ord_00000007"),
        PlannedDelete("order", "erp", "801A", "c-1", "1042"),
    ])  # fmt: skip

    text = _rendered(plan)

    assert "2 downstream deletes (delete policy propagate)" in text
    assert "ord_00000007" in text
    assert "1042" in text


def test_no_deletes_table_when_nothing_would_be_deleted() -> None:
    assert "downstream deletes" not in _rendered(DryRunPlan())
