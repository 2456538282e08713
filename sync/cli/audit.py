"""``revbridge audit list``: who did what to which records, when and why; and the CLI's actor.

The CLI acts as the operating-system user running it: that is whom ``errors resolve``,
``errors ignore`` and ``conflicts resolve`` record in the audit table.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from sync.cli.common import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    console,
    database_url,
    open_store,
)
from sync.cli.output import FormatOption, ListFormat, list_format, plain, print_rows
from sync.store.audit import Actor, ActorKind, AuditEntry, AuditFilter, RecordRef, list_audit

audit_app = typer.Typer(help="Review what people did (console, API and CLI).", no_args_is_help=True)

_COLUMNS = ("id", "at", "actor", "actor_kind", "action", "note", "records")
NoteOption = Annotated[
    str | None, typer.Option("--note", help="Why: kept in the audit with your OS user name.")
]


def cli_actor() -> Actor:
    """The operating-system user running this command (its uid where it has no name)."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # a container user with no passwd entry and no $USER
        name = f"uid:{os.getuid()}"
    return Actor(name, ActorKind.CLI_OS_USER)


def _ref_text(ref: RecordRef) -> str:
    parts = [f"error {ref.error_id}" if ref.error_id else "",
             f"conflict {ref.conflict_id}" if ref.conflict_id else "",
             ref.entity or "", ref.source_id or ref.canonical_id or ""]  # fmt: skip
    return " ".join(part for part in parts if part)


def _json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "actor_kind": entry.actor_kind,
        "action": entry.action,
        "note": entry.note,
        "records": [asdict(ref) for ref in entry.records],
    }


def _table(entries: list[AuditEntry]) -> Table:
    table = Table(title="audit", title_justify="left")
    for column in ("id", "at", "actor", "kind", "action"):
        table.add_column(column, no_wrap=True)
    table.add_column("note", overflow="fold", ratio=1)
    table.add_column("records", overflow="fold", ratio=1)
    for entry in entries:
        records = "; ".join(_ref_text(ref) for ref in entry.records)
        table.add_row(*plain(
            entry.id, f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.actor, entry.actor_kind,
            entry.action, entry.note or "-", records or "-",
        ))  # fmt: skip
    return table


@audit_app.command("list")
def audit_list(
    config: ConfigOption = None,
    database: DatabaseOption = None,
    actor: Annotated[str | None, typer.Option(help="Only this person (or OS user).")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. error.ignore.")] = None,
    record: Annotated[
        str | None, typer.Option(help="Only actions on this record (canonical or source id).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 50,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """List actions people took, newest first."""
    ids = (record,) if record else ()
    where = AuditFilter(actor=actor, action=action, canonical_ids=ids, source_ids=ids)
    with open_store(database_url(database, config), read_only=True).engine.connect() as connection:
        entries = list_audit(connection, where, limit=limit)
    shown = list_format(output_format, as_json)
    if shown is ListFormat.TABLE:
        console.print(_table(entries))
        return
    print_rows([_json(entry) for entry in entries], _COLUMNS, shown)
