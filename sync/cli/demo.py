"""``revbridge demo``: the whole product on loopback sandboxes, in well under a minute."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from config.settings import Settings
from connectors.erp.connector import ErpConnector
from mappings.loader import load_mapping_set
from mappings.mapping_set import MappingSet
from sandboxes.erp.sandbox import ErpSandbox
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.demo_assurance import AssuranceDemo, reconcile_and_measure
from sync.cli.demo_events import DemoEvents, demo_events, with_demo_events
from sync.cli.demo_lifecycle import LifecycleDemo, lifecycle_story
from sync.cli.demo_receivables import BilledOrder, bill_orders, ticking_clock
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.console.passwords import hash_password
from sync.engine.factory import open_engine
from sync.engine.flows import QUOTE_TO_CASH, RECEIVABLES, Flow
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.records import landed_everywhere
from sync.store.users import add_user

# Orders finance invoices in the ERP after quote-to-cash: how many are paid in full, in part.
BILLED_ORDERS, PAID_INVOICES, PART_PAID_INVOICES = 5, 2, 1
# The console user the demo creates, with the support role: it may retry, resolve and ignore.
DEMO_USER = "demo"
CONSOLE_PORT = 8080


@dataclass(frozen=True)
class DemoConsole:
    """How to open the support console on the demo's store; the password exists only here."""

    config: Path
    user: str
    password: str

    def lines(self) -> list[str]:
        """What the demo prints last (the password once; only its hash is stored)."""
        return [
            "Open the support console on the demo's store:",
            f"  revbridge console -c {self.config} --port {CONSOLE_PORT}",
            f"  then browse http://127.0.0.1:{CONSOLE_PORT}/ and sign in as {self.user}",
            f"  password (shown once): {self.password}",
            f"  (a new one: revbridge users reset-password {self.user} -c {self.config}"
            " --generate-password)",
        ]


def open_demo_console(store: Store, sandboxes: Sandboxes, database: Path) -> DemoConsole:
    """Write a configuration for the demo's store and add its console user, with a new password.

    The configuration names the sandboxes (throwaway credentials, readable by its owner only);
    they stop with the demo, so the console shows the store, and a retry says the systems are
    unreachable rather than writing anywhere.
    """
    config = database.with_suffix(".yaml")
    write_sandbox_config(config, sandboxes.settings_document(store.url))
    password = secrets.token_urlsafe(18)
    add_user(store, DEMO_USER, "support", hash_password(password), datetime.now(UTC))
    return DemoConsole(config, DEMO_USER, password)


@dataclass(frozen=True)
class SourceChange:
    """One edit the demo makes in the Salesforce sandbox between its two runs."""

    object_name: str
    record_id: str
    description: str


@dataclass(frozen=True)
class InvoiceBalance:
    """A billed invoice as Salesforce Billing shows it after the receivables run."""

    number: str
    currency: str
    total: Decimal
    paid: Decimal
    # Revbridge_Balance__c, what the ERP says is still owed; None when it is not in Salesforce.
    balance: Decimal | None


@dataclass
class DemoResult:
    """The runs' summaries, the edits made between the first two, what finance billed, and
    the billed invoices' balances in Salesforce at the end."""

    database_url: str
    first: RunSummary
    second: RunSummary
    changes: list[SourceChange] = field(default_factory=list)
    billed: list[BilledOrder] = field(default_factory=list)
    receivables: RunSummary | None = None
    balances: list[InvoiceBalance] = field(default_factory=list)
    console: DemoConsole | None = None
    assurance: AssuranceDemo | None = None
    events: DemoEvents | None = None
    lifecycle: LifecycleDemo | None = None

    def balance_lines(self) -> list[str]:
        """One line per billed invoice: what was paid in the ERP, the balance in Salesforce."""
        lines = []
        for invoice in self.balances:
            paid = (
                "unpaid"
                if not invoice.paid
                else "paid in full"
                if invoice.paid == invoice.total
                else f"paid {invoice.paid:,.2f}"
            )
            balance = "not in Salesforce" if invoice.balance is None else f"{invoice.balance:,.2f}"
            lines.append(
                f"  {invoice.number}  total {invoice.total:>10,.2f} {invoice.currency}  "
                f"{paid:<16} balance {balance}"
            )
        return lines


def _landed_everywhere(connection: sa.Connection, entity: str, limit: int) -> list[str]:
    """Salesforce ids of ``entity`` records present in billing and ERP, in a stable order."""
    stored = landed_everywhere(connection, entity, ("billing", "erp"), limit)
    if entity == "order":
        return [record.payload["lines"][0]["source"]["id"] for record in stored]
    return [record.source_id for record in stored]


def change_source_records(store: Store, salesforce: SalesforceSandbox) -> list[SourceChange]:
    """Edit 3 accounts, 1 product and the first line of 2 orders, as a sales-ops user would."""
    with store.engine.connect() as connection:
        accounts = _landed_everywhere(connection, "account", 3)
        products = _landed_everywhere(connection, "product", 1)
        order_items = _landed_everywhere(connection, "order", 2)
    changes: list[SourceChange] = []
    for number, account_id in enumerate(accounts, start=1):
        salesforce.update_record("Account", account_id, {"Phone": f"+1 415 555 01{number:02d}"})
        changes.append(SourceChange("Account", account_id, "new phone number"))
    for product_id in products:
        description = "Now includes 24/7 support"
        salesforce.update_record("Product2", product_id, {"Description": description})
        changes.append(SourceChange("Product2", product_id, "new description"))
    for item_id in order_items:
        salesforce.update_record("OrderItem", item_id, {"Quantity": 7})
        changes.append(SourceChange("OrderItem", item_id, "quantity changed to 7"))
    return changes


def _engine(
    store: Store,
    mapping_set: MappingSet,
    settings: Settings,
    flow: Flow,
    on_page: Callable[[str, RunSummary], None] | None,
) -> Callable[[], RunSummary]:
    """One run of ``flow`` on fresh connections."""

    def run() -> RunSummary:
        with open_engine(settings, store, mapping_set, flow, on_page=on_page) as engine:
            return engine.run()

    return run


def _bill_in_erp(store: Store, settings: Settings) -> list[BilledOrder]:
    erp = ErpConnector(settings.erp, settings.retry, wsdl_cache=None)
    try:
        return bill_orders(store, erp, BILLED_ORDERS, PAID_INVOICES, PART_PAID_INVOICES)
    finally:
        erp.close()


def salesforce_balances(
    salesforce: SalesforceSandbox, billed: Sequence[BilledOrder]
) -> list[InvoiceBalance]:
    """What Salesforce Billing shows for each billed invoice, by its ERP number."""
    landed = {r["Revbridge_Number__c"]: r for r in salesforce.records("blng__Invoice__c")}
    balances = []
    for order in billed:
        number = str(order.invoice["tranId"])
        row = landed.get(number)
        balance = row.get("Revbridge_Balance__c") if row else None
        total = Decimal(str(order.invoice["total"]))
        balances.append(
            InvoiceBalance(
                number,
                str(row["CurrencyIsoCode"]) if row else "",
                total,
                total - order.amount_due,
                None if balance is None else Decimal(str(balance)),
            )
        )
    return balances


def run_demo(
    database: Path,
    size: SandboxSize | None = None,
    on_page: Callable[[str, RunSummary], None] | None = None,
) -> DemoResult:
    """Seed the sandboxes, sync, edit a few Salesforce records, sync again; then finance bills
    a few orders in the ERP and records payments (some in full, one in part), and the
    receivables flow carries invoices, balances and payments to Salesforce Billing."""
    for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)
    database_url = f"sqlite:///{database}"
    store = Store(database_url)
    mapping_set = load_mapping_set()
    sandboxes = Sandboxes(size)
    sandboxes.erp = ErpSandbox(clock=ticking_clock())
    with sandboxes:
        settings = with_demo_events(sandboxes.settings(database_url))
        quote_to_cash = _engine(store, mapping_set, settings, QUOTE_TO_CASH, on_page)
        first = quote_to_cash()
        changes = change_source_records(store, sandboxes.salesforce)
        result = DemoResult(database_url, first, quote_to_cash(), changes)
        if sandboxes.salesforce.lifecycle_subscription_ids:
            result.lifecycle = lifecycle_story(store, sandboxes)
        result.billed = _bill_in_erp(store, settings)
        result.receivables = _engine(store, mapping_set, settings, RECEIVABLES, on_page)()
        result.balances = salesforce_balances(sandboxes.salesforce, result.billed)
        result.assurance = reconcile_and_measure(store, sandboxes, settings, mapping_set)
        result.events = demo_events(store, result.second.run_id)
        result.console = open_demo_console(store, sandboxes, database)
    store.close()
    return result
