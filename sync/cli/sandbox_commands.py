"""``revbridge demo`` and ``revbridge sandbox``: the only commands that start the sandboxes.

The sandboxes are a separate install (``pip install 'revbridge[sandbox]'``) and are imported
here only when one of these commands runs, so every other command (``run`` included) loads
none of the fakes and no test CA.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from mappings.errors import MappingConfigError
from sync.cli.common import DEFAULT_DATABASE_URL, console, fail
from sync.cli.report import sandbox_table
from sync.cli.run_footer import run_report
from sync.store.schema import RunStatus

DEMO_DATABASE = Path("revbridge-demo.db")
INSTALL_HINT = "pip install 'revbridge[sandbox]'"


def require_sandboxes() -> None:
    """Fail with one line when the ``sandbox`` extra is not installed."""
    for module in ("sandboxes", "trustme"):
        if importlib.util.find_spec(module) is None:
            raise fail(f"the loopback sandboxes are not installed ({module} is missing): "
                       f"{INSTALL_HINT}")  # fmt: skip


def demo(
    database: Annotated[
        Path, typer.Option(help="SQLite file for the demo's state (replaced on each demo).")
    ] = DEMO_DATABASE,
    accounts: Annotated[int, typer.Option(min=1, help="Seeded Salesforce accounts.")] = 50,
    orders: Annotated[int, typer.Option(min=1, help="Seeded Salesforce orders.")] = 500,
) -> None:
    """Seed the sandboxes, sync, change a few Salesforce records, sync again, then receivables."""
    require_sandboxes()
    from sync.cli.demo import run_demo  # noqa: PLC0415 - the sandboxes load only for the demo
    from sync.cli.sandboxes import SandboxSize  # noqa: PLC0415

    try:
        size = SandboxSize(accounts=accounts, orders=orders, lifecycles=True)
        result = run_demo(database, size)
    except MappingConfigError as error:
        raise fail(str(error)) from None
    console.print(run_report(result.first, "run 1: initial sync"))
    console.print("\nBetween the runs, a sales-ops user edited in Salesforce:")
    for change in result.changes:
        console.print(f"  {change.object_name} {change.record_id}: {change.description}")
    console.print(run_report(result.second, "run 2: only what changed"))
    if result.lifecycle is not None:
        from sync.cli.demo_lifecycle import print_lifecycle  # noqa: PLC0415 - as run_demo

        print_lifecycle(result.lifecycle, console)
    if result.receivables is not None:
        paid = sum(1 for billed in result.billed if billed.payment)
        console.print(
            f"\nThen finance invoiced {len(result.billed)} orders in the ERP and recorded "
            f"{paid} payments, each applied to its invoice."
        )
        console.print(run_report(result.receivables, "run 3: receivables, ERP to Salesforce"))
        console.print("\nThe invoices in Salesforce Billing (balance: what the ERP says is owed):")
        for line in result.balance_lines():
            console.print(line, highlight=False)
    if result.events is not None:
        from sync.cli.demo_events import print_events  # noqa: PLC0415 - as run_demo

        print_events(result.events, console)
    # The story ends where issue 18 puts it: what is wrong across the systems, and its cost.
    if result.assurance is not None:
        from sync.cli.demo_assurance import print_assurance  # noqa: PLC0415 - as run_demo

        print_assurance(result.assurance, console)
    console.print(
        f"\nState kept in {database}. Inspect the error queue with:\n"
        f"  revbridge errors list --database-url {result.database_url}"
    )
    if result.console is not None:
        console.print("\n" + "\n".join(result.console.lines()), markup=False, highlight=False)
    runs = (result.first, result.second, result.receivables)
    if any(run is not None and run.status is RunStatus.FAILED for run in runs):
        raise typer.Exit(1)


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
    require_sandboxes()
    from sync.cli.sandboxes import (  # noqa: PLC0415 - the sandboxes load only for this command
        Sandboxes,
        SandboxSize,
        wait_for_interrupt,
        write_sandbox_config,
    )

    with Sandboxes(SandboxSize(accounts=accounts, orders=orders)) as sandboxes:
        document = sandboxes.settings_document(database_url)
        write_sandbox_config(config_out, document)
        console.print(sandbox_table(sandboxes, document))
        console.print(
            f"Wrote {config_out} (sandbox credentials only). Sync with:\n"
            f"  revbridge run --config {config_out}\nPress Ctrl-C to stop."
        )
        wait_for_interrupt()


def register(app: typer.Typer) -> None:
    """Add ``demo`` and ``sandbox`` to the ``revbridge`` app."""
    app.command()(demo)
    app.command()(sandbox)
