"""``revbridge errors ...``: review, retry, resolve, ignore and export the error queue."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import IO, Annotated, Any

import typer

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
from sync.cli.output import (
    FormatOption,
    ListFormat,
    list_format,
    print_rows,
    write_csv,
    write_json_lines,
)
from sync.cli.report import error_detail, error_table
from sync.cli.run_footer import run_report
from sync.engine.factory import open_engine
from sync.engine.flows import flows_from_settings
from sync.store.error_actions import close_errors
from sync.store.error_queue import ErrorFilter, ErrorRow, list_errors
from sync.store.error_queue_pages import parse_age
from sync.store.schema import ErrorStatus, RunStatus

_COLUMNS = tuple(ErrorRow.__dataclass_fields__)

errors_app = typer.Typer(help="Review and act on the sync error queue.", no_args_is_help=True)


def _age(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_age(text)
    except ValueError as error:
        raise fail(str(error)) from None


IdsArgument = Annotated[list[int] | None, typer.Argument(help="Entry ids.", show_default=False)]
StatusOption = Annotated[ErrorStatus | None, typer.Option(help="Only entries in this status.")]
EntityOption = Annotated[str | None, typer.Option(help="Only this canonical entity.")]
SystemOption = Annotated[str | None, typer.Option(help="Only this source or target system.")]
ClassOption = Annotated[
    str | None, typer.Option("--class", help="Only this error class, e.g. ValidationError.")
]
OlderOption = Annotated[str | None, typer.Option(help="Only entries older than e.g. 2h, 7d.")]
NewerOption = Annotated[str | None, typer.Option(help="Only entries newer than e.g. 30m, 1d.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every entry the filters match.")]


def _filter(
    ids: list[int] | None,
    status: ErrorStatus | None,
    entity: str | None,
    system: str | None,
    error_class: str | None,
    older: str | None,
    newer: str | None,
) -> ErrorFilter:
    return ErrorFilter(
        ids=tuple(ids or ()),
        status=status,
        entity=entity,
        system=system,
        error_class=error_class,
        older_than=_age(older),
        newer_than=_age(newer),
    )


def _selected(url: str, chosen: ErrorFilter, every: bool) -> list[ErrorRow]:
    if not chosen.ids and not every:
        raise fail("name entry ids, or pass --all (with filters) to act on every match")
    with open_store(url, read_only=True).engine.connect() as connection:
        rows = list_errors(connection, where=chosen, limit=None)
    found = {row.id for row in rows}
    unknown = [str(entry_id) for entry_id in chosen.ids if entry_id not in found]
    if unknown and not chosen.entity and not chosen.system and not chosen.error_class:
        # The same answer as `errors show 99`: an id that names nothing is a mistake.
        raise fail(f"no error-queue entry {', '.join(unknown)}", code=1)
    return rows


@errors_app.command("list")
def errors_list(
    config: ConfigOption = None,
    database: DatabaseOption = None,
    status: StatusOption = None,
    entity: EntityOption = None,
    system: SystemOption = None,
    error_class: ClassOption = None,
    older_than: OlderOption = None,
    newer_than: NewerOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 50,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """List entries, newest first."""
    chosen = _filter(None, status, entity, system, error_class, older_than, newer_than)
    with open_store(database_url(database, config), read_only=True).engine.connect() as connection:
        rows = list_errors(connection, where=chosen, limit=limit)
    shown = list_format(output_format, as_json)
    if shown is ListFormat.TABLE:
        console.print(error_table(rows))
        return
    print_rows([asdict(row) for row in rows], _COLUMNS, shown)


@errors_app.command("show")
def errors_show(
    entry_id: Annotated[int, typer.Argument(help="Entry id.")],
    config: ConfigOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one entry in full, with its payload."""
    with open_store(database_url(database, config), read_only=True).engine.connect() as connection:
        rows = list_errors(connection, where=ErrorFilter(ids=(entry_id,)), limit=1)
    if not rows:
        raise fail(f"no error-queue entry {entry_id}", code=1)
    if as_json:
        print(json.dumps(asdict(rows[0]), default=str, indent=2))
        return
    console.print(error_detail(rows[0]))


def _marking(status: ErrorStatus, help_text: str) -> None:
    """Register ``errors <verb>``, which moves matching open entries to ``status``."""

    def mark(
        ids: IdsArgument = None,
        every: AllOption = False,
        config: ConfigOption = None,
        database: DatabaseOption = None,
        entity: EntityOption = None,
        system: SystemOption = None,
        error_class: ClassOption = None,
        note: NoteOption = None,
    ) -> None:
        url = database_url(database, config)
        only_open = ErrorStatus.OPEN if every else None
        chosen = _filter(ids, only_open, entity, system, error_class, None, None)
        rows = _selected(url, chosen, every)
        # A resolution is a change event only while a sink is configured (as in a run).
        announce = config is not None and bool(settings_from(config).events.sinks)
        with open_store(url).transaction() as connection:
            # Audited as the OS user, in the same transaction; a note stays optional here so
            # scripts written before it keep working (the console always asks for one).
            changed = close_errors(connection, [row.id for row in rows], status, cli_actor(),
                                   note, note_required=False, record_events=announce)  # fmt: skip
        console.print(f"{changed} entries marked {status.value}")

    mark.__doc__ = help_text
    verb = "resolve" if status is ErrorStatus.RESOLVED else "ignore"
    errors_app.command(verb)(mark)


_marking(ErrorStatus.RESOLVED, "Mark entries resolved (fixed by hand in the target, say).")
_marking(
    ErrorStatus.IGNORED, "Mark entries ignored: they stay for the record but are no longer open."
)


@errors_app.command("retry")
def errors_retry(
    ids: IdsArgument = None,
    every: AllOption = False,
    config: RequiredConfigOption = Path("revbridge.yaml"),
    entity: EntityOption = None,
    system: SystemOption = None,
    error_class: ClassOption = None,
    flow_name: Annotated[str | None, typer.Option("--flow", help="Flow to retry in.")] = None,
) -> None:
    """Re-read the records from their source and sync them with the current mappings."""
    settings = settings_from(config)
    chosen = _filter(
        ids, ErrorStatus.OPEN if every else None, entity, system, error_class, None, None
    )
    rows = _selected(settings.database_url, chosen, every)
    if not rows:
        console.print("nothing to retry: no open entry matches")
        return
    by_entity: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_entity[row.entity].append(row.source_id)
    flows = flows_from_settings(settings)
    flow = flows[flow_name] if flow_name else next(iter(flows.values()))
    store = open_store(settings.database_url)
    with open_engine(settings, store, mappings_for(settings), flow) as engine:
        summary = engine.retry(by_entity)
    console.print(run_report(summary, f"retry of {len(rows)} entries (run {summary.run_id})"))
    if summary.status is RunStatus.FAILED:
        raise typer.Exit(1)


@errors_app.command("export")
def errors_export(
    config: ConfigOption = None,
    database: DatabaseOption = None,
    status: StatusOption = None,
    entity: EntityOption = None,
    system: SystemOption = None,
    error_class: ClassOption = None,
    older_than: OlderOption = None,
    newer_than: NewerOption = None,
    output_format: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option(help="File to write (default stdout).")] = None,
) -> None:
    """Export matching entries with their payloads (JSON lines or CSV).

    In CSV, a cell that starts like a spreadsheet formula (= + - @) gets a leading quote.
    """
    if output_format not in {"jsonl", "csv"}:
        raise fail("--format is jsonl or csv")
    chosen = _filter(None, status, entity, system, error_class, older_than, newer_than)
    with open_store(database_url(database, config), read_only=True).engine.connect() as connection:
        rows = [asdict(row) for row in list_errors(connection, where=chosen, limit=None)]
    stream = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        _write_rows(rows, output_format, stream)
    finally:
        if output:
            stream.close()


def _write_rows(rows: list[dict[str, Any]], output_format: str, stream: IO[str]) -> None:
    if output_format == "jsonl":
        write_json_lines(rows, stream)
    else:
        write_csv(rows, _COLUMNS, stream)
