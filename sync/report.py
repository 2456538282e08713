"""Rich renderings of runs and the error queue for the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from sync.errors import ErrorRow
from sync.stats import RunSummary

if TYPE_CHECKING:
    from sync.sandboxes import Sandboxes

_ROW_ORDER = ("salesforce", "canonical", "billing", "erp")
_ROW_LABELS = {"canonical": "canonical store"}


def run_table(summary: RunSummary, title: str) -> Table:
    """One row per system: read, created, updated, unchanged, rejected."""
    table = Table(title=title, title_justify="left")
    table.add_column("system")
    for column in ("read", "created", "updated", "unchanged", "rejected"):
        table.add_column(column, justify="right")
    names = [name for name in _ROW_ORDER if name in summary.systems]
    names += sorted(set(summary.systems) - set(_ROW_ORDER))
    for name in names:
        counts = summary.systems[name]
        table.add_row(
            _ROW_LABELS.get(name, name),
            str(counts.read) if counts.read else "-",
            str(counts.created),
            str(counts.updated),
            str(counts.unchanged),
            str(counts.rejected),
        )
    table.caption = (
        f"run {summary.run_id} · {summary.status.value} · {summary.pages} pages · "
        f"error queue: {summary.error_queue_active} open"
    )
    if summary.message:
        table.caption += f"\n{summary.message}"
    return table


def error_table(errors: Sequence[ErrorRow]) -> Table:
    """The error queue, newest first."""
    table = Table(title="error queue", title_justify="left")
    for column in ("id", "status", "entity", "source id", "target", "stage"):
        table.add_column(column, no_wrap=True)
    table.add_column("message", overflow="fold", ratio=1)
    for error in errors:
        table.add_row(
            str(error.id),
            error.status.value,
            error.entity,
            error.source_id,
            error.target_system or "-",
            error.stage,
            error.message,
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
