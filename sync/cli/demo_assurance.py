"""The demo's last act: discrepancies made behind revbridge's back, a reconcile that finds
them, and this month's revenue metrics with the leakage they put at risk.

Only ``revbridge demo`` imports this (through :mod:`sync.cli.demo`), with the sandboxes up.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from config.settings import Settings
from mappings.mapping_set import MappingSet
from sandboxes.discrepancies import delete_billing_object, edit_billing_object
from sync.assurance.metrics_load import load_facts
from sync.assurance.metrics_period import period_of
from sync.assurance.metrics_report import RevenueReport, revenue_report
from sync.assurance.metrics_rows import shown_amount
from sync.assurance.reading import reading_settings
from sync.assurance.reconcile import ReconcileRequest, reconcile
from sync.assurance.values import to_major
from sync.cli.metrics import metrics_table
from sync.cli.output import plain
from sync.cli.reconcile_findings import shown
from sync.cli.sandboxes import Sandboxes
from sync.engine.connections import open_connectors
from sync.engine.flows import flows_from_settings
from sync.store import Store
from sync.store.findings import Finding

# The billing order whose total someone "fixes" by hand, and what they type.
EDITED_TOTAL = "1.00"


@dataclass
class AssuranceDemo:
    """What was done behind revbridge's back, what reconcile found, and the month's metrics."""

    seeded: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    report: RevenueReport | None = None


def _seed_discrepancies(sandboxes: Sandboxes) -> list[str]:
    billing = sandboxes.billing
    order = billing.resources("orders")[0]
    edit_billing_object(billing, "orders", order["external_id"], {"total": EDITED_TOTAL})
    contact = billing.resources("contacts")[0]
    delete_billing_object(billing, "contacts", contact["external_id"])
    return [
        f"billing order {order['external_id']}: total edited from {order['total']} to "
        f"{EDITED_TOTAL}",
        f"billing contact {contact['external_id']}: deleted",
    ]


def reconcile_and_measure(
    store: Store, sandboxes: Sandboxes, settings: Settings, mapping_set: MappingSet
) -> AssuranceDemo:
    """Seed two discrepancies, reconcile every flow, and take this month's metrics."""
    demo = AssuranceDemo(seeded=_seed_discrepancies(sandboxes))
    request = ReconcileRequest(flows=list(flows_from_settings(settings).values()),
                               settings=settings)  # fmt: skip
    with open_connectors(reading_settings(settings)) as connectors:
        demo.findings = reconcile(store, mapping_set, connectors, request).findings
    today = datetime.now(UTC).date()
    demo.report = revenue_report(load_facts(store), period_of(today), today)
    return demo


def findings_summary(findings: list[Finding]) -> Table:
    """Findings by kind, with the amount at risk per currency."""
    counts = Counter(str(f.kind) for f in findings)
    at_risk: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in findings:
        if f.currency and f.amount_at_risk_minor:
            at_risk[str(f.kind)][f.currency] += f.amount_at_risk_minor
    table = Table(title="reconciliation findings", title_justify="left")
    for name in ("kind", "findings", "amount at risk"):
        table.add_column(name, justify="left" if name == "kind" else "right")
    for kind, count in sorted(counts.items()):
        money = ", ".join(
            f"{format(to_major(minor, currency), 'f')} {currency}"
            for currency, minor in sorted(at_risk[kind].items())
        )
        table.add_row(*plain(kind, count, money or "-"))
    return table


def print_assurance(demo: AssuranceDemo, console: Console) -> None:
    """The seeded discrepancies, the findings, and the metrics with the leakage total."""
    console.print("\nThen someone changed billing behind revbridge's back:", highlight=False)
    for line in demo.seeded:
        console.print(f"  {shown(line)}", markup=False, highlight=False)
    console.print(findings_summary(demo.findings))
    if demo.report is None:
        return
    console.print(metrics_table(demo.report))
    leakage = {f.currency: f.leakage for f in demo.report.by_currency if f.leakage != Decimal(0)}
    total = ", ".join(f"{shown_amount(a, c)} {c}" for c, a in sorted(leakage.items()))
    console.print(f"Leakage (open unbilled and amount-mismatch findings): {total or 'none'}",
                  markup=False, highlight=False)  # fmt: skip
