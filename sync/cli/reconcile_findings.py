"""`revbridge reconcile list` and `reconcile acknowledge`: the findings the store keeps.

Exit codes: 0 done; 1 ``acknowledge`` names no finding, or one that resolved; 2 the
configuration or the store can't be read, or the note is empty or over 2,000 characters.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sync.assurance.values import to_major
from sync.cli.audit import cli_actor
from sync.cli.common import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    console,
    database_url,
    fail,
    open_store,
)
from sync.cli.output import FormatOption, ListFormat, list_format, plain, print_rows
from sync.store.finding_actions import (
    NOTE_MAX_CHARS,
    FindingNotFound,
    FindingResolved,
    InvalidNote,
    acknowledge_finding,
)
from sync.store.findings import FindingFilter, FindingKind, StoredFinding, list_findings

_SHOWN_CHARS = 120
LIST_COLUMNS = (
    "id",
    "kind",
    "severity",
    "flow",
    "entity",
    "system",
    "canonical_id",
    "system_ids",
    "field",
    "currency",
    "amount_at_risk",
    "first_seen",
    "last_seen",
    "resolved_at",
    "acknowledged_by",
    "note",
)


def shown(value: Any) -> str:
    """A value as one line of text: control and format characters (bidi overrides) escaped."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in ("Cc", "Cf") else char
        for char in text
    )
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def amount_text(minor: int | None, currency: str | None) -> str | None:
    """Minor units as the decimal amount people read, or None."""
    if minor is None or currency is None:
        return None
    return format(to_major(minor, currency), "f")


def _list_row(stored: StoredFinding) -> dict[str, Any]:
    finding = stored.finding
    return {
        "id": stored.id,
        "kind": str(finding.kind),
        "severity": str(finding.severity),
        "flow": finding.flow,
        "entity": finding.entity,
        "system": finding.system,
        "canonical_id": finding.canonical_id,
        "system_ids": finding.system_ids,
        "field": finding.field,
        "currency": finding.currency,
        "amount_at_risk": amount_text(finding.amount_at_risk_minor, finding.currency),
        "first_seen": stored.first_seen.isoformat(),
        "last_seen": stored.last_seen.isoformat(),
        "resolved_at": stored.resolved_at.isoformat() if stored.resolved_at else None,
        "acknowledged_by": stored.acknowledged_by,
        "note": stored.note,
    }


def _list_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="findings", title_justify="left")
    for column in LIST_COLUMNS:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*plain(*("-" if row[c] is None else shown(row[c]) for c in LIST_COLUMNS)))
    return table


def _config(context: typer.Context, config: Path | None) -> Path | None:
    """``--config`` of the subcommand, or of ``reconcile`` before it."""
    given = context.obj if isinstance(context.obj, Path) else None
    return config if config is not None else given


def findings_list(
    context: typer.Context,
    config: ConfigOption = None,
    database: DatabaseOption = None,
    flow: Annotated[str | None, typer.Option("--flow", help="One flow.")] = None,
    entity: Annotated[str | None, typer.Option("--entity", help="One canonical entity.")] = None,
    kind: Annotated[FindingKind | None, typer.Option("--kind", help="One kind.")] = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="Resolved findings too.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 1000,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """List the findings the store keeps (open ones unless --all), with their ids."""
    chosen = FindingFilter(flow=flow, entity=entity, kind=kind, include_resolved=include_resolved)
    store = open_store(database_url(database, _config(context, config)), read_only=True)
    try:
        with store.engine.connect() as connection:
            rows = [_list_row(found) for found in list_findings(connection, chosen, limit)]
    finally:
        store.close()
    shown_as = list_format(output_format, as_json)
    if shown_as is ListFormat.TABLE:
        console.print(_list_table(rows))
        return
    print_rows(rows, LIST_COLUMNS, shown_as)


def findings_acknowledge(
    context: typer.Context,
    finding_id: Annotated[int, typer.Argument(help="Finding id (see `reconcile list`).")],
    note: Annotated[
        str, typer.Option("--note", help=f"Why (at most {NOTE_MAX_CHARS} characters).")
    ],
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Record that you looked at a finding, with a note; audited with your OS user name.

    The finding stays open while reconciles see it, and resolves itself once they don't.
    """
    store = open_store(database_url(database, _config(context, config)), read_only=True)
    try:
        with store.transaction() as connection:
            acknowledged = acknowledge_finding(connection, finding_id, actor=cli_actor(), note=note)
    except (FindingNotFound, FindingResolved) as error:
        raise fail(str(error), code=1) from None
    except InvalidNote as error:
        raise fail(str(error)) from None
    finally:
        store.close()
    finding = acknowledged.finding
    subject = finding.canonical_id or next(iter(finding.system_ids.values()), "")
    console.print(
        *plain(
            f"finding {acknowledged.id} ({finding.kind} {finding.entity} {shown(subject)} in "
            f"{finding.system}) acknowledged by {shown(acknowledged.acknowledged_by or '')}"
        )
    )
