"""`revbridge metrics`: revenue metrics of one month, from the canonical store alone."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mappings.currencies import ISO_4217_CODES
from sync.assurance.metrics_load import load_facts, rates_into
from sync.assurance.metrics_period import BadPeriod, Period, parse_period
from sync.assurance.metrics_report import RevenueReport, revenue_report
from sync.assurance.metrics_rows import METRICS, columns_of, report_json, shown, shown_amount
from sync.assurance.rates import MissingRate
from sync.cli.common import (
    JsonOption,
    RequiredConfigOption,
    console,
    err_console,
    fail,
    open_store,
    settings_from,
)
from sync.cli.output import plain
from sync.cli.reconcile_findings import shown as one_line

PeriodOption = Annotated[
    str, typer.Option("--period", help="The month to report, YYYY-MM (e.g. 2026-11).")
]
AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of", formats=["%Y-%m-%d"], help="Take ARR, backlog and AR on DATE (default: "
        "the period's last day)."
    ),
]  # fmt: skip
CurrencyOption = Annotated[
    str | None,
    typer.Option(
        "--currency", help="Also report in this currency (default: assurance.reporting_currency)."
    ),
]


def _period(text: str, as_of: datetime | None) -> Period:
    try:
        period = parse_period(text)
    except BadPeriod as error:
        raise fail(str(error)) from None
    if as_of is not None and as_of.date() < period.start:
        raise fail(f"--as-of {as_of.date().isoformat()} is before the period {period.name}")
    return period


def _currency(text: str | None, configured: str | None) -> str | None:
    if text is None:
        return configured
    code = text.strip().upper()
    if code not in ISO_4217_CODES:
        raise fail(f"unknown currency {text!r}: give an ISO 4217 code such as EUR or USD")
    return code


def metrics_table(report: RevenueReport) -> Table:
    """Metrics as rows, currencies as columns; the reporting currency last."""
    columns = columns_of(report)
    table = Table(
        title=f"revenue metrics {report.period.name} (as of {report.as_of.isoformat()})",
        title_justify="left",
    )
    table.add_column("metric")
    for figures in columns:
        reporting = report.reporting is figures
        table.add_column(f"{figures.currency} (reporting)" if reporting else figures.currency,
                         justify="right")  # fmt: skip
    for metric in METRICS:
        table.add_row(*plain(metric.label, *(shown(metric, f) or "-" for f in columns)))
    return table


def backlog_table(report: RevenueReport) -> Table:
    """Backlog per customer, largest first; names are data, shown as one line of text."""
    table = Table(title="backlog by customer", title_justify="left")
    for name in ("customer", "account id", "currency", "backlog"):
        table.add_column(name, justify="right" if name == "backlog" else "left")
    for line in report.backlog_by_customer:
        name = report.account_names.get(line.account_id, "-")
        amount = shown_amount(line.amount, line.currency)
        table.add_row(*plain(one_line(name), one_line(line.account_id), line.currency, amount))
    return table


def print_report(report: RevenueReport) -> None:
    """Both tables, and a line when some stored records could not be read."""
    console.print(metrics_table(report))
    if report.backlog_by_customer:
        console.print(backlog_table(report))
    if report.skipped:
        counts = ", ".join(f"{entity} {count}" for entity, count in sorted(report.skipped.items()))
        note = f"left out, as they no longer validate as canonical records: {counts}"
        err_console.print(Text(note), highlight=False)


def metrics_command(
    config: RequiredConfigOption,
    period_text: PeriodOption,
    as_of: AsOfOption = None,
    currency: CurrencyOption = None,
    as_json: JsonOption = False,
) -> None:
    """MRR/ARR and movements, bookings, backlog, billings, collections, AR, DSO and leakage."""
    settings = settings_from(config)
    period = _period(period_text, as_of)
    reporting = _currency(currency, settings.assurance.reporting_currency)
    store = open_store(settings.database_url, read_only=True)
    try:
        facts = load_facts(store)
    finally:
        store.close()
    rates = (reporting, rates_into(reporting, settings.assurance)) if reporting else None
    try:
        report = revenue_report(facts, period, as_of.date() if as_of else None, rates)
    except MissingRate as error:
        raise fail(str(error)) from None
    if as_json:
        sys.stdout.write(json.dumps(report_json(report)) + "\n")
        return
    print_report(report)
