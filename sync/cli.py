"""The ``revbridge`` command line.

Exit codes: 0 the run finished (records it could not land are in the error queue);
1 the run failed (a system was unreachable, refused the credentials, or is misconfigured);
2 the configuration or the mappings are invalid, or the state store can't be opened.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from config.loader import ConfigInvalid, load_settings
from mappings.errors import MappingConfigError
from mappings.loader import load_mapping_set
from sync.connections import open_connectors
from sync.demo import DEMO_DATABASE, run_demo
from sync.engine import SyncEngine
from sync.errors import list_errors
from sync.flows import QUOTE_TO_CASH
from sync.report import error_table, run_table, sandbox_table
from sync.sandboxes import Sandboxes, SandboxSize, wait_for_interrupt, write_sandbox_config
from sync.store import Store
from sync.store.database import StoreError
from sync.store.schema import ErrorStatus, RunStatus

app = typer.Typer(
    name="revbridge",
    help="Salesforce CPQ -> billing -> ERP sync: capture each record once, keep the rest in step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
errors_app = typer.Typer(help="Review the sync error queue.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the state store.", no_args_is_help=True)
app.add_typer(errors_app, name="errors")
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)

DEFAULT_DATABASE_URL = "sqlite:///revbridge.db"
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="State store URL (default: from --config, $REVBRIDGE_DATABASE_URL, "
        "or sqlite:///revbridge.db).",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def _database_url(database_url: str | None, config: Path | None) -> str:
    if database_url:
        return database_url
    if config is not None:
        try:
            return load_settings(config).database_url
        except ConfigInvalid as error:
            raise _fail(str(error)) from None
    return os.environ.get("REVBRIDGE_DATABASE_URL", DEFAULT_DATABASE_URL)


def _open_store(url: str) -> Store:
    try:
        return Store(url)
    except StoreError as error:
        raise _fail(str(error)) from None


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each rejection.")] = False,
) -> None:
    """Configure logging for every command."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )


@app.command()
def run(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
    ] = Path("revbridge.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the quote-to-cash flow once: changed Salesforce records to billing and ERP."""
    try:
        settings = load_settings(config)
        mapping_set = load_mapping_set(
            sorted(settings.mappings_dir.glob("*.yaml")) if settings.mappings_dir else None
        )
    except (ConfigInvalid, MappingConfigError) as error:
        raise _fail(str(error)) from None
    store = _open_store(settings.database_url)
    with open_connectors(settings) as connectors:
        summary = SyncEngine(
            store,
            mapping_set,
            connectors,
            QUOTE_TO_CASH,
            page_size=settings.salesforce.page_size,
        ).run()
    if as_json:
        print(
            json.dumps(
                {
                    "run_id": summary.run_id,
                    "status": summary.status.value,
                    "message": summary.message,
                    **summary.to_json(),
                }
            )
        )
    else:
        console.print(run_table(summary, f"run {summary.run_id} of {summary.flow}"))
    if summary.status is RunStatus.FAILED:
        raise typer.Exit(1)


@errors_app.command("list")
def errors_list(
    config: ConfigOption = None,
    database_url: DatabaseOption = None,
    status: Annotated[
        ErrorStatus | None, typer.Option(help="Only entries in this status (default: all).")
    ] = None,
    entity: Annotated[str | None, typer.Option(help="Only this canonical entity.")] = None,
    system: Annotated[str | None, typer.Option(help="Only this source or target system.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print entries as JSON lines.")] = False,
) -> None:
    """List error-queue entries, newest first."""
    store = _open_store(_database_url(database_url, config))
    with store.engine.connect() as connection:
        rows = list_errors(connection, status=status, entity=entity, system=system, limit=limit)
    if as_json:
        for row in rows:
            print(json.dumps(asdict(row), default=str))
        return
    console.print(error_table(rows))


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, database_url: DatabaseOption = None) -> None:
    """Apply pending migrations to the state store."""
    store = _open_store(_database_url(database_url, config))
    console.print(f"{store.display_url} is at revision {store.current_revision()}")


@app.command()
def demo(
    database: Annotated[
        Path, typer.Option(help="SQLite file for the demo's state (replaced on each demo).")
    ] = DEMO_DATABASE,
    accounts: Annotated[int, typer.Option(min=1, help="Seeded Salesforce accounts.")] = 50,
    orders: Annotated[int, typer.Option(min=1, help="Seeded Salesforce orders.")] = 500,
) -> None:
    """Seed the sandboxes, sync everything, change a few Salesforce records, sync again."""
    try:
        result = run_demo(database, SandboxSize(accounts=accounts, orders=orders))
    except MappingConfigError as error:
        raise _fail(str(error)) from None
    console.print(run_table(result.first, "run 1: initial sync"))
    console.print("\nBetween the runs, a sales-ops user edited in Salesforce:")
    for change in result.changes:
        console.print(f"  {change.object_name} {change.record_id}: {change.description}")
    console.print(run_table(result.second, "run 2: only what changed"))
    console.print(
        f"\nState kept in {database}. Inspect the error queue with:\n"
        f"  revbridge errors list --database-url {result.database_url}"
    )
    if RunStatus.FAILED in (result.first.status, result.second.status):
        raise typer.Exit(1)


@app.command()
def sandbox(
    config_out: Annotated[
        Path, typer.Option("--config-out", help="Where to write a config for these sandboxes.")
    ] = Path("revbridge.sandbox.yaml"),
    database_url: Annotated[
        str, typer.Option("--database-url", help="State store URL written into the config.")
    ] = DEFAULT_DATABASE_URL,
    accounts: Annotated[int, typer.Option(min=1, help="Seeded Salesforce accounts.")] = 50,
    orders: Annotated[int, typer.Option(min=1, help="Seeded Salesforce orders.")] = 500,
) -> None:
    """Serve the Salesforce, billing and ERP sandboxes in the foreground until Ctrl-C."""
    with Sandboxes(SandboxSize(accounts=accounts, orders=orders)) as sandboxes:
        document = sandboxes.settings_document(database_url)
        write_sandbox_config(config_out, document)
        console.print(sandbox_table(sandboxes, document))
        console.print(
            f"Wrote {config_out} (sandbox credentials only). Sync with:\n"
            f"  revbridge run --config {config_out}\nPress Ctrl-C to stop."
        )
        wait_for_interrupt()


if __name__ == "__main__":
    app()
