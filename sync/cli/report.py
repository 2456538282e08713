"""Rich renderings of runs and the error queue for the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group
from rich.json import JSON
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sync.cli.common import console
from sync.cli.output import plain
from sync.engine.dry_run import PLAN_NOTE, DryRunPlan, PlannedWrite
from sync.engine.stats import CANONICAL, RunSummary, SystemCounts
from sync.store.error_queue import ErrorRow

if TYPE_CHECKING:
    from sync.cli.sandboxes import Sandboxes

_ROW_ORDER = ("salesforce", "canonical", "billing", "erp")
_ROW_LABELS = {CANONICAL: "canonical"}


def _system_order(per_system: Mapping[str, SystemCounts]) -> list[str]:
    present = set(per_system)
    known = [n for n in _ROW_ORDER if n in present] + sorted(present - set(_ROW_ORDER))
    # The system read from leads (Salesforce or the ERP), then the canonical store, then targets.
    return sorted(known, key=lambda n: 0 if per_system[n].read else 1 if n == CANONICAL else 2)


def run_table(summary: RunSummary, title: str) -> Table:
    """Per entity and system: read, created, updated, deleted, unchanged, deferred, rejected and
    conflicts."""
    # Compact so the ten columns fit an 80-column terminal.
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=0,
                  show_edge=False, pad_edge=False)  # fmt: skip
    table.add_column("entity")
    table.add_column("system")
    counters = ("read", "created", "updated", "deleted", "unchanged", "deferred", "rejected",
                "conflicts")  # fmt: skip
    for column in counters:
        table.add_column(column, justify="right")
    for entity, per_system in summary.by_entity.items():
        for index, name in enumerate(_system_order(per_system)):
            counts = per_system[name]
            cells = [str(getattr(counts, counter)) for counter in counters]
            cells[0] = cells[0] if counts.read else "-"
            table.add_row(*plain(entity if index == 0 else "", _ROW_LABELS.get(name, name), *cells),
                          end_section=index == len(per_system) - 1)  # fmt: skip
    # The footer (run id, status, API calls, message) is sync.cli.run_footer's: a caption
    # would wrap at the table's width, mid-phrase.
    return table


def stripped_warning(summary: RunSummary) -> Text | None:
    """One line naming the records whose text was stripped of illegal characters, if any."""
    stripped = summary.stripped
    if not stripped:
        return None
    parts = [
        f"{entity} {count} in {_ROW_LABELS.get(system, system)}"
        for entity, per_system in stripped.items()
        for system, count in per_system.items()
    ]
    line = "warning: text stripped of illegal characters (illegal_characters: strip): "
    return Text(line + ", ".join(parts), style="yellow")


def error_table(errors: Sequence[ErrorRow]) -> Table:
    """The error queue, newest first."""
    table = Table(title="error queue", title_justify="left")
    for column in ("id", "status", "entity", "source id", "target", "stage"):
        table.add_column(column, no_wrap=True)
    table.add_column("message", overflow="fold", ratio=1)
    for error in errors:
        table.add_row(
            *plain(
                error.id,
                error.status.value,
                error.entity,
                error.source_id,
                error.target_system or "-",
                error.stage,
                error.message,
            )
        )
    return table


def sandbox_table(sandboxes: Sandboxes, document: dict[str, Any]) -> Table:
    """Where each sandbox listens and how to log in (throwaway credentials)."""
    table = Table(title="revbridge sandboxes", title_justify="left")
    for column in ("system", "url", "credentials"):
        table.add_column(column, overflow="fold")
    salesforce = document["salesforce"]
    erp = document["erp"]
    table.add_row(
        "salesforce",
        sandboxes.salesforce.url,
        f"username {salesforce['username']} · password {salesforce['password']} · "
        f"token {salesforce['security_token']} · client id {salesforce['client_id']} · "
        f"client secret {salesforce['client_secret']} · CA {salesforce['ca_bundle']}",
    )
    table.add_row("billing", sandboxes.billing.url, f"api key {document['billing']['api_key']}")
    table.add_row(
        "erp",
        erp["wsdl_url"],
        f"account {erp['account']} · consumer key {erp['consumer_key']} · "
        f"consumer secret {erp['consumer_secret']} · token {erp['token_id']} · "
        f"token secret {erp['token_secret']}",
    )
    return table


def error_detail(error: ErrorRow) -> Panel:
    """One entry in full: where, why, how often, and the payload that failed."""
    route = f" -> {error.target_system}" if error.target_system else ""
    code = f" {error.code}" if error.code else ""
    header = Text.assemble(
        (error.entity, "bold"),
        f" {error.source_id} from {error.source_system}{route}\n",
        "\n".join(
            [
                f"stage {error.stage} · {error.error_class}{code}",
                f"status {error.status.value} · attempts {error.attempts} · run {error.run_id}",
                f"first {error.created_at:%Y-%m-%d %H:%M} · "
                f"last {error.updated_at:%Y-%m-%d %H:%M} UTC",
            ]
        ),
    )
    payload = JSON(json.dumps(error.payload, default=str)) if error.payload else Text("(none)")
    body = Group(header, Text("\n" + error.message + "\n"), payload)
    return Panel(body, title=f"error {error.id}", title_align="left", expand=False)


def dry_run_tables(plan: DryRunPlan, samples: int) -> Group:
    """The plan as a summary table plus sample field diffs per entity and target."""
    summary = Table(title="dry run: nothing was written", title_justify="left")
    for column in ("entity", "system", "read", "create", "update", "unchanged", "held back"):
        summary.add_column(column, justify="left" if column in ("entity", "system") else "right")
    keys = sorted({(w.entity, w.system) for w in plan.writes} | set(plan.unchanged))
    for entity, system in keys:
        writes = [w for w in plan.writes if (w.entity, w.system) == (entity, system)]
        held = sum(1 for h in plan.held if (h[0], h[1]) == (entity, system))
        summary.add_row(*plain(entity, system, str(plan.read.get(entity, 0)),
                        str(sum(w.action == "create" for w in writes)),
                        str(sum(w.action == "update" for w in writes)),
                        str(plan.unchanged.get((entity, system), 0)), str(held)))  # fmt: skip
    parts: list[Table | Text] = [summary]
    for entity, system in keys:
        updates = [
            w for w in plan.writes if (w.entity, w.system, w.action) == (entity, system, "update")
        ]
        if updates:
            parts.append(_diff_table(f"{entity} -> {system}: sample updates", updates[:samples]))
    for entity, system, source_id, why in plan.held[:samples]:
        parts.append(Text(f"held back: {entity} {source_id} for {system}: {why}"))
    if plan.deletes:
        parts.append(_deletes_table(plan, samples))
    return Group(*parts)


def show_plan(plan: DryRunPlan, samples: int, as_json: bool) -> None:
    """Print a dry run's plan: JSON for scripts, tables for people; both hold the same counts."""
    if as_json:
        print(json.dumps(plan.to_json(), default=str))
        return
    if not plan.writes and not plan.deletes and not plan.held and not plan.message:
        read = sum(plan.read.values())
        console.print(Text(f"dry run: nothing to do ({read} records read, all in step)"))
        return
    console.print(dry_run_tables(plan, samples))
    console.print(Text(f"Children are {PLAN_NOTE}."))
    if plan.message:
        console.print(Text(f"the planned run would end {plan.status.value}: {plan.message}"))


def _deletes_table(plan: DryRunPlan, samples: int) -> Table:
    title = f"{len(plan.deletes)} downstream deletes (delete policy propagate)"
    table = Table(title=title, title_justify="left")
    for column in ("entity", "system", "source id", "target id"):
        table.add_column(column, overflow="fold")
    for delete in plan.deletes[: samples * 4]:
        table.add_row(*plain(delete.entity, delete.system, delete.source_id, delete.target_id))
    return table


def _diff_table(title: str, writes: Sequence[PlannedWrite]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("source id", "field", "now", "planned"):
        table.add_column(column, overflow="fold")
    for write in writes:
        for index, (path, before, after) in enumerate(write.diffs):
            source_id = write.source_id if index == 0 else ""
            table.add_row(*plain(source_id, path, repr(before), repr(after)))
    return table
