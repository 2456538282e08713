"""``revbridge conflicts ...``: review the conflict log and resolve held records."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sync.cli.audit import NoteOption, cli_actor
from sync.cli.common import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    RequiredConfigOption,
    console,
    database_url,
    fail,
    mappings_for,
    open_store,
    settings_from,
)
from sync.cli.output import FormatOption, ListFormat, list_format, plain, print_rows
from sync.engine.conflict_resolution import Side, resolve_conflicts
from sync.engine.connections import open_connectors
from sync.store.conflict_actions import record_choices
from sync.store.conflict_log import ConflictFilter, ConflictRow, ConflictStatus, list_conflicts

conflicts_app = typer.Typer(
    help="Review conflicts (targets changed behind revbridge's back) and resolve held records.",
    no_args_is_help=True,
)

StatusOption = Annotated[
    ConflictStatus | None, typer.Option(help="Only rows in this status (open: held records).")
]
EntityOption = Annotated[str | None, typer.Option(help="Only this canonical entity.")]
SystemOption = Annotated[str | None, typer.Option(help="Only this target system.")]
RunOption = Annotated[int | None, typer.Option("--run", help="Only conflicts of this run.")]


def _value(value: Any) -> str:
    return "-" if value is None else json.dumps(value, default=str)


def _table(rows: list[ConflictRow]) -> Table:
    table = Table(title="conflicts", title_justify="left")
    for column in ("id", "status", "entity", "canonical id", "target", "field", "decision"):
        table.add_column(column, no_wrap=True)
    for column in ("base", "source", "target value"):
        table.add_column(column, overflow="fold", ratio=1)
    for row in rows:
        table.add_row(*plain(
            row.id, row.status, row.entity, row.canonical_id, row.target_system, row.field,
            row.resolution or row.decision,
            _value(row.base_value), _value(row.source_value), _value(row.target_value),
        ))  # fmt: skip
    return table


def _detail(row: ConflictRow) -> Panel:
    source = f" (from {row.source_system} {row.source_id})" if row.source_id else ""
    lines = [
        f"{row.entity} {row.canonical_id}{source} in {row.target_system}",
        f"field {row.field} · policy {row.policy or '-'} · decision {row.decision}",
        f"status {row.status} · resolution {row.resolution or '-'} · run {row.run_id}",
        f"logged {row.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"base (last written) {_value(row.base_value)}",
        f"source              {_value(row.source_value)}",
        f"target (now)        {_value(row.target_value)}",
    ]
    return Panel(
        Text("\n".join(lines)), title=f"conflict {row.id}", title_align="left", expand=False
    )


@conflicts_app.command("list")
def conflicts_list(
    config: ConfigOption = None,
    database: DatabaseOption = None,
    status: StatusOption = None,
    entity: EntityOption = None,
    system: SystemOption = None,
    run_id: RunOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """List logged conflicts, newest first."""
    chosen = ConflictFilter(status=status, entity=entity, system=system, run_id=run_id)
    with open_store(database_url(database, config), read_only=True).engine.connect() as connection:
        rows = list_conflicts(connection, chosen, limit=limit)
    shown = list_format(output_format, as_json)
    if shown is ListFormat.TABLE:
        console.print(_table(rows))
        return
    print_rows([asdict(row) for row in rows], tuple(ConflictRow.__dataclass_fields__), shown)


@conflicts_app.command("show")
def conflicts_show(
    conflict_id: Annotated[int, typer.Argument(help="Conflict id.")],
    config: ConfigOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one conflict: base, source and target values, decision and run."""
    with open_store(database_url(database, config), read_only=True).engine.connect() as connection:
        rows = list_conflicts(connection, ConflictFilter(ids=(conflict_id,)), limit=1)
    if not rows:
        raise fail(f"no conflict {conflict_id}", code=1)
    if as_json:
        print(json.dumps(asdict(rows[0]), default=str, indent=2))
        return
    console.print(_detail(rows[0]))


@conflicts_app.command("resolve")
def conflicts_resolve(
    ids: Annotated[list[int], typer.Argument(help="Ids of open conflicts.")],
    take: Annotated[
        str, typer.Option("--take", help="source: write the source's value; target: keep it.")
    ],
    config: RequiredConfigOption = Path("revbridge.yaml"),
    note: NoteOption = None,
) -> None:
    """Choose a side for held fields; a record is written once all its fields are chosen."""
    if take not in ("source", "target"):
        raise fail("--take is source or target")
    side: Side = "source" if take == "source" else "target"
    settings = settings_from(config)
    store = open_store(settings.database_url, read_only=True)  # nothing to resolve without one
    with store.transaction() as connection:
        cleaned = (note or "").strip() or None
        record_choices(connection, dict.fromkeys(ids, side), cli_actor(), cleaned)
    with open_connectors(settings) as connectors:
        outcome = resolve_conflicts(store, mappings_for(settings), connectors, ids, side)
    for conflict_id in outcome.not_open:
        console.print(f"conflict {conflict_id} is not open (unknown, decided or resolved)")
    for canonical_id, count in outcome.waiting.items():
        console.print(
            f"{canonical_id}: {count} more held fields need a choice before it is written"
        )
    for canonical_id in outcome.written:
        console.print(f"{canonical_id}: written with the chosen values")
    for canonical_id, message in outcome.rejected.items():
        console.print(f"{canonical_id}: the target rejected it ({message}); still open")
    if outcome.rejected or (outcome.not_open and not outcome.written and not outcome.waiting):
        raise typer.Exit(1)
