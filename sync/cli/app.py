"""The ``revbridge`` command line: every command registered in one place.

Exit codes, for every command: 0 done; 1 the work failed (a system was unreachable, refused
the credentials, or a named entry does not exist); 2 the configuration, the mappings or the
command line are invalid, or the state store can't be opened; 130 stopped by Ctrl-C or
SIGTERM. `check` has its own codes (README). Each module's docstring lists its command's.
"""

from __future__ import annotations

import logging
from importlib.metadata import version as package_version
from typing import Annotated

import typer

from sync.cli import console as cli_console
from sync.cli import history as cli_history
from sync.cli import sandbox_commands
from sync.cli import serve as cli_serve
from sync.cli import setup as cli_setup
from sync.cli.audit import audit_app
from sync.cli.backfill import backfill
from sync.cli.common import (
    ConfigOption,
    DatabaseOption,
    console,
    database_url,
    open_store,
)
from sync.cli.conflicts import conflicts_app
from sync.cli.error_queue import errors_app
from sync.cli.events import events_app
from sync.cli.mappings import mappings_app
from sync.cli.metrics import metrics_command
from sync.cli.output import cap_logged_values
from sync.cli.reconcile import reconcile_app
from sync.cli.resend import resend
from sync.cli.run import run
from sync.cli.users import users_app
from sync.service.logs import LogFormat, configure_logging

app = typer.Typer(
    name="revbridge",
    help="Salesforce CPQ -> billing -> ERP sync: capture each record once, keep the rest in step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Manage the state store.", no_args_is_help=True)
app.add_typer(errors_app, name="errors")
app.add_typer(db_app, name="db")
app.add_typer(mappings_app, name="mappings")
app.add_typer(conflicts_app, name="conflicts")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(events_app, name="events")
app.command()(backfill)
app.command()(run)
app.command()(resend)
app.add_typer(reconcile_app, name="reconcile")
app.command("metrics")(metrics_command)
cli_setup.register(app)
cli_serve.register(app)
cli_console.register(app)
cli_history.register(app)
sandbox_commands.register(app)


def _print_version(wanted: bool) -> None:
    if wanted:
        print(f"revbridge {package_version('revbridge')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[  # handled by its eager callback
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each rejection.")] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="human, or json for log shippers.")
    ] = LogFormat.HUMAN,
) -> None:
    """Configure logging for every command (secrets masked, run context on every line)."""
    configure_logging(log_format, level=logging.INFO if verbose else logging.ERROR)
    cap_logged_values()


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Apply pending migrations to the state store."""
    store = open_store(database_url(database, config))
    console.print(f"{store.display_url} is at revision {store.current_revision()}")


if __name__ == "__main__":
    app()
