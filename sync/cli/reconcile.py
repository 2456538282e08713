"""`revbridge reconcile`: compare what each system holds now with the store, keep findings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from connectors.errors import AuthError, ConnectorError
from sync.assurance.rates import MissingRate
from sync.assurance.reading import reading_settings
from sync.assurance.reconcile import ReconcileReport, ReconcileRequest, reconcile
from sync.cli.common import (
    ConfigOption,
    JsonOption,
    console,
    err_console,
    fail,
    flows_named,
    mappings_for,
    open_store,
    settings_from,
)
from sync.cli.output import FormatOption, ListFormat, list_format, plain, print_rows
from sync.cli.reconcile_findings import amount_text, findings_acknowledge, findings_list, shown
from sync.engine.connections import open_connectors
from sync.store.findings import Finding, Severity
from sync.tools.system_check import EXIT_AUTH, EXIT_UNREACHABLE

COLUMNS = (
    "kind",
    "severity",
    "flow",
    "entity",
    "system",
    "canonical_id",
    "system_ids",
    "field",
    "expected",
    "actual",
    "currency",
    "amount_at_risk",
    "reporting_currency",
    "reporting_amount_at_risk",
    "id",
)


def _row(finding: Finding, finding_id: int | None) -> dict[str, Any]:
    return {
        "id": finding_id,
        "kind": str(finding.kind),
        "severity": str(finding.severity),
        "flow": finding.flow,
        "entity": finding.entity,
        "system": finding.system,
        "canonical_id": finding.canonical_id,
        "system_ids": finding.system_ids,
        "field": finding.field,
        "expected": finding.expected_value,
        "actual": finding.actual_value,
        "currency": finding.currency,
        "amount_at_risk": amount_text(finding.amount_at_risk_minor, finding.currency),
        "reporting_currency": finding.reporting_currency,
        "reporting_amount_at_risk": amount_text(
            finding.reporting_amount_minor, finding.reporting_currency
        ),
    }


def findings_table(rows: Sequence[dict[str, Any]]) -> Table:
    """The findings, data as text (never rich markup)."""
    table = Table(title="reconciliation findings", title_justify="left")
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*plain(*("-" if row[c] is None else shown(row[c]) for c in COLUMNS)))
    return table


def _summary(report: ReconcileReport) -> str:
    pages = ", ".join(f"{system} {count}" for system, count in sorted(report.pages.items()))
    outcome = report.outcome
    line = (
        f"{len(report.findings)} findings ({outcome.new} new, {outcome.resolved} resolved); "
        f"list pages read: {pages or 'none'}"
    )
    if report.skipped:
        skipped = ", ".join(f"{system} {name}" for system, name in report.skipped)
        line += f"; not listable yet, skipped: {skipped}"
    return line


reconcile_app = typer.Typer(
    help="Compare each target with what revbridge wrote there; list and acknowledge findings.",
    invoke_without_command=True,
)
reconcile_app.command("list")(findings_list)
reconcile_app.command("acknowledge")(findings_acknowledge)


@reconcile_app.callback()
def reconcile_command(
    context: typer.Context,
    config: ConfigOption = None,
    flow_name: Annotated[
        str | None, typer.Option("--flow", help="One flow (default: all).")
    ] = None,
    entity: Annotated[str | None, typer.Option("--entity", help="One canonical entity.")] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            formats=["%Y-%m-%d"],
            help="Only records revbridge wrote since DATE; resolves no earlier finding.",
        ),
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option("--fail-on", help="Exit 1 when a finding at or above this severity exists."),
    ] = None,
    unbilled_days: Annotated[
        int | None,
        typer.Option(
            "--unbilled-days",
            min=0,
            help="Days an activated order may go unbilled (default: assurance.unbilled_days).",
        ),
    ] = None,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """Compare each target with what revbridge wrote there; keep the findings in the store.

    `reconcile list` shows the kept findings with their ids, `reconcile acknowledge ID
    --note TEXT` records that someone looked at one.
    """
    if context.invoked_subcommand is not None:
        context.obj = config  # `reconcile -c CFG list` reads the same store as `list -c CFG`
        return
    if config is None:
        raise fail("missing option --config / -c: the revbridge YAML configuration file")
    settings = settings_from(config)
    mapping_set = mappings_for(settings)
    chosen = flows_named(settings, flow_name, config)
    known = {name for system in mapping_set.systems.values() for name in system.entities}
    if entity is not None and entity not in known:
        raise fail(f"no entity {entity!r} in the mappings; known: {', '.join(sorted(known))}")
    request = ReconcileRequest(
        flows=chosen,
        settings=settings,
        entity=entity,
        since=since.replace(tzinfo=UTC) if since is not None else None,
        grace_days=settings.assurance.unbilled_days if unbilled_days is None else unbilled_days,
    )
    store = open_store(settings.database_url)
    try:
        with open_connectors(reading_settings(settings)) as connectors:
            report = reconcile(store, mapping_set, connectors, request)
    except MissingRate as error:
        raise fail(f"{config}: {error}; nothing was recorded") from None
    except AuthError as error:
        raise fail(f"{error}; nothing was recorded", EXIT_AUTH) from None
    except ConnectorError as error:
        raise fail(f"{error}; nothing was recorded", EXIT_UNREACHABLE) from None
    finally:
        store.close()
    _show(report, list_format(output_format, as_json))
    if fail_on is not None and any(f.severity.rank >= fail_on.rank for f in report.findings):
        raise typer.Exit(1)


def _show(report: ReconcileReport, chosen: ListFormat) -> None:
    ids = report.outcome.ids
    rows = [_row(finding, ids.get(finding.key)) for finding in report.findings]
    if chosen is ListFormat.TABLE:
        console.print(findings_table(rows))
        console.print(Text(_summary(report)), highlight=False)
        return
    print_rows(rows, COLUMNS, chosen)
    err_console.print(Text(_summary(report)), highlight=False)
