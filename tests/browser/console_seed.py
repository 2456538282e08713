"""A store the browser tests look at, filled by real syncs against the loopback sandboxes.

The first quote-to-cash run meets a broken mapping (20 orders in a status the order mapping
has no entry for), one order whose status is hostile markup, and an account whose values are
hostile markup. Then billing and Salesforce both edit two accounts, and a second run under the
``manual`` conflict policy holds them for a person. The mapping stays broken until a test
fixes it, so the 20 errors can be retried from the console and land.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from config.settings import ConflictSettings, Settings
from mappings.loader import load_mapping_set, mapping_files_for, shipped_mapping_files
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.factory import open_engine
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.schema import xref

SIZE = SandboxSize(accounts=6, orders=30, products=3, invalid_records=False, page_size=200)
BROKEN_ORDERS = 20
# Each value tries one way out of text: a script element, an attribute break-out, a script
# URL a link could carry, and Rich's console markup (which the CLI must not interpret either).
HOSTILE_NAME = (
    '<script>window.__xss = "script";</script>'
    '"onmouseover="window.__xss = \'attribute\'" x="'
    " [link=javascript:window.__xss='rich']click[/link]"
)
HOSTILE_WEBSITE = "javascript:window.__xss='url'"
HOSTILE_STATUS = "<img src=x onerror=\"window.__xss='img'\">"
HOSTILE_BILLING_NAME = '"><svg onload="window.__xss=\'svg\'"> [link=https://evil.test]x[/link]'
# The order status the fixed mapping learns.
FIXED_STATUS_LINE = ("Cancelled: cancelled}", "Cancelled: cancelled, Pending: draft}")


@dataclass
class SeededConsole:
    """What the seed left behind, for the tests to look for."""

    sandboxes: Sandboxes
    settings: Settings
    store: Store
    mappings_dir: Path
    broken_order_ids: list[str]
    hostile_order_id: str
    landed_order_id: str
    hostile_account_id: str
    conflict_account_id: str
    hostile_conflict_account_id: str

    def fix_order_mapping(self) -> None:
        """What an admin does after reading the errors: map the status the orders carry."""
        path = self.mappings_dir / "salesforce.yaml"
        old, new = FIXED_STATUS_LINE
        text = path.read_text(encoding="utf-8")
        assert old in text, "the order status map moved; update the browser seed"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def canonical_id(self, system: str, external_id: str) -> str:
        """The canonical id of the record known as ``external_id`` in ``system``."""
        query = sa.select(xref.c.canonical_id).where(
            xref.c.system == system, xref.c.external_id == external_id
        )
        with self.store.engine.connect() as connection:
            return str(connection.execute(query).scalar_one())

    def external_id(self, system: str, canonical_id: str) -> str:
        """The id ``system`` knows the record ``canonical_id`` by."""
        query = sa.select(xref.c.external_id).where(
            xref.c.system == system, xref.c.canonical_id == canonical_id
        )
        with self.store.engine.connect() as connection:
            return str(connection.execute(query).scalar_one())

    def billing_customer(self, canonical_id: str) -> dict[str, Any]:
        """The billing sandbox's customer for an account."""
        (found,) = [
            row
            for row in self.sandboxes.billing.resources("customers")
            if row["external_id"] == canonical_id
        ]
        return dict(found)

    def edit_billing_customer(self, canonical_id: str, **changes: Any) -> None:
        """A billing user edits the customer behind revbridge's back."""
        server = {"id", "object", "created", "updated"}
        body = {k: v for k, v in self.billing_customer(canonical_id).items() if k not in server}
        self.sandboxes.billing.seed("customers", [{**body, **changes}])

    def run(self) -> RunSummary:
        """One quote-to-cash run with the mappings as they are on disk now."""
        mapping_set = load_mapping_set(mapping_files_for(self.settings))
        with open_engine(self.settings, self.store, mapping_set, QUOTE_TO_CASH) as engine:
            return engine.run()


def _copy_mappings(folder: Path) -> Path:
    folder.mkdir()
    for path in shipped_mapping_files():
        shutil.copy(path, folder / path.name)
    return folder


def seed_console(sandboxes: Sandboxes, folder: Path, database_url: str) -> SeededConsole:
    """Break, sync, edit both sides, sync again: errors, hostile values and held conflicts."""
    salesforce = sandboxes.salesforce
    settings = sandboxes.settings(database_url)
    settings.mappings_dir = _copy_mappings(folder / "mappings")
    settings.conflicts = ConflictSettings(policy="manual")
    orders = [order["Id"] for order in salesforce.records("Order")]
    broken, hostile_order = orders[:BROKEN_ORDERS], orders[BROKEN_ORDERS]
    for order_id in broken:
        salesforce.update_record("Order", order_id, {"Status": "Pending"})
    salesforce.update_record("Order", hostile_order, {"Status": HOSTILE_STATUS})
    accounts = [account["Id"] for account in salesforce.records("Account")]
    hostile_account, conflict_account = accounts[0], accounts[1]
    salesforce.update_record(
        "Account", hostile_account, {"Name": HOSTILE_NAME, "Website": HOSTILE_WEBSITE}
    )
    seeded = SeededConsole(
        sandboxes=sandboxes,
        settings=settings,
        store=Store(database_url),
        mappings_dir=settings.mappings_dir,
        broken_order_ids=broken,
        hostile_order_id=hostile_order,
        landed_order_id=orders[-1],
        hostile_account_id=hostile_account,
        conflict_account_id=conflict_account,
        hostile_conflict_account_id=hostile_account,
    )
    seeded.run()
    _edit_both_sides(seeded)
    seeded.run()
    return seeded


def _edit_both_sides(seeded: SeededConsole) -> None:
    """Billing and Salesforce change the same two fields of two accounts between runs."""
    salesforce = seeded.sandboxes.salesforce
    plain = seeded.canonical_id("salesforce", seeded.conflict_account_id)
    seeded.edit_billing_customer(plain, name="Initech (billing)", phone="+1 212 555 0199")
    salesforce.update_record(
        "Account",
        seeded.conflict_account_id,
        {"Name": "Initech (sales)", "Phone": "+1 415 555 0100"},
    )
    hostile = seeded.canonical_id("salesforce", seeded.hostile_account_id)
    seeded.edit_billing_customer(hostile, name=HOSTILE_BILLING_NAME, phone="+1 212 555 0142")
    salesforce.update_record(
        "Account",
        seeded.hostile_account_id,
        {"Name": HOSTILE_NAME + " v2", "Phone": HOSTILE_STATUS},
    )
