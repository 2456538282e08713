"""Conflicts over loopback: targets changed behind revbridge's back; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from config.settings import ConflictSettings, EntityConflictSettings
from connectors.base import WriteSpec
from connectors.erp.connector import ErpConnector
from mappings.mapping_set import MappingSet
from sync.cli.audit import cli_actor
from sync.cli.conflicts import conflicts_app
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.audit import list_audit
from sync.store.conflict_log import ConflictRow, list_conflicts
from sync.store.records import xref_entries

SIZE = SandboxSize(accounts=4, orders=6, products=3, page_size=200)
ACCOUNT = "0015g0000000001AAA"


class Harness:
    """Runs quote-to-cash with conflict detection and a policy the test chooses."""

    def __init__(self, sandboxes: Sandboxes, database_url: str, mapping_set: MappingSet) -> None:
        self.sandboxes = sandboxes
        self.store = Store(database_url)
        self.settings = sandboxes.settings(database_url)
        self.mapping_set = mapping_set

    def policy(self, default: str, **entities: EntityConflictSettings) -> None:
        self.settings.conflicts = ConflictSettings.model_validate(
            {"policy": default, "entities": entities}
        )

    def run(self) -> RunSummary:
        with open_connectors(self.settings) as connectors:
            engine = SyncEngine(
                self.store,
                self.mapping_set,
                connectors,
                QUOTE_TO_CASH,
                conflicts=self.settings.conflicts,
            )
            return engine.run()

    def conflicts(self) -> list[ConflictRow]:
        with self.store.engine.connect() as connection:
            return list_conflicts(connection, limit=None)

    def customer(self, canonical_id: str) -> dict[str, Any]:
        (found,) = [
            row
            for row in self.sandboxes.billing.resources("customers")
            if row["external_id"] == canonical_id
        ]
        return found

    def account_id(self) -> str:
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT canonical_id FROM xref WHERE system='salesforce' AND external_id=:i"
                ),
                {"i": ACCOUNT},
            )
            return str(rows.scalar_one())

    def edit_billing_customer(self, canonical_id: str, **changes: Any) -> None:
        """A billing user edits the customer (revbridge is not involved)."""
        server = {"id", "object", "created", "updated"}
        body = {k: v for k, v in self.customer(canonical_id).items() if k not in server}
        self.sandboxes.billing.seed("customers", [{**body, **changes}])


@pytest.fixture
def harness(database_url: str, mapping_set: MappingSet) -> Iterator[Harness]:
    with Sandboxes(SIZE) as sandboxes:
        running = Harness(sandboxes, database_url, mapping_set)
        yield running
        running.store.close()


def _conflict_after_both_edit(harness: Harness) -> tuple[str, str]:
    """First sync; then billing changes the phone and Salesforce the name. Returns (id, phone)."""
    harness.run()
    canonical_id = harness.account_id()
    original_phone = harness.customer(canonical_id)["phone"]
    harness.edit_billing_customer(canonical_id, phone="+1 212 555 0199")
    harness.sandboxes.salesforce.update_record("Account", ACCOUNT, {"Name": "Initech Renamed"})
    return canonical_id, original_phone


def _landed_orders(harness: Harness) -> list[Any]:
    with harness.store.engine.connect() as connection:
        query = sa.text(
            "SELECT c.source_id FROM canonical_records c JOIN xref x "
            "ON x.canonical_id = c.canonical_id AND x.system = 'erp' WHERE c.entity = 'order'"
        )
        return list(connection.execute(query))


def test_source_change_alone_raises_no_conflict_in_billing_or_erp(harness: Harness) -> None:
    harness.run()
    order_ids = {row.source_id for row in _landed_orders(harness)}
    item = next(
        i for i in harness.sandboxes.salesforce.records("OrderItem") if i["OrderId"] in order_ids
    )
    harness.sandboxes.salesforce.update_record("Account", ACCOUNT, {"Name": "Initech Renamed"})
    harness.sandboxes.salesforce.update_record("OrderItem", item["Id"], {"Quantity": 7})

    summary = harness.run()

    # Orders carry lines, decimals and dates that each target spells its own way.
    assert summary.systems["billing"].updated == 2
    assert summary.systems["erp"].updated == 2
    assert harness.conflicts() == []
    assert harness.customer(harness.account_id())["name"] == "Initech Renamed"


def test_source_wins_overwrites_the_target_change_and_logs_it(harness: Harness) -> None:
    harness.policy("source_wins")
    canonical_id, original_phone = _conflict_after_both_edit(harness)

    summary = harness.run()

    customer = harness.customer(canonical_id)
    assert (customer["name"], customer["phone"]) == ("Initech Renamed", original_phone)
    (row,) = harness.conflicts()
    assert (row.entity, row.canonical_id, row.target_system, row.field) == (
        "account",
        canonical_id,
        "billing",
        "phone",
    )
    assert (row.base_value, row.source_value, row.target_value) == (
        original_phone,
        original_phone,
        "+1 212 555 0199",
    )
    assert (row.policy, row.decision, row.status) == ("source_wins", "source", "decided")
    assert row.run_id == summary.run_id
    assert row.created_at is not None
    assert summary.systems["billing"].conflicts == 1


def test_merge_keeps_the_target_only_change_and_still_keeps_it_at_the_next_write(
    harness: Harness,
) -> None:
    harness.policy("merge")
    canonical_id, _ = _conflict_after_both_edit(harness)

    harness.run()
    customer = harness.customer(canonical_id)
    assert (customer["name"], customer["phone"]) == ("Initech Renamed", "+1 212 555 0199")
    (row,) = harness.conflicts()
    assert (row.field, row.policy, row.decision) == ("phone", "merge", "target")

    harness.sandboxes.salesforce.update_record("Account", ACCOUNT, {"Name": "Initech Again"})
    harness.run()
    customer = harness.customer(canonical_id)
    assert (customer["name"], customer["phone"]) == ("Initech Again", "+1 212 555 0199")
    assert len(harness.conflicts()) == 1  # the kept value is no new conflict


def test_merge_gives_a_field_both_sides_changed_to_the_source(harness: Harness) -> None:
    harness.policy("merge")
    harness.run()
    canonical_id = harness.account_id()
    harness.edit_billing_customer(canonical_id, name="Billing's Name")
    harness.sandboxes.salesforce.update_record("Account", ACCOUNT, {"Name": "Initech Renamed"})

    harness.run()

    assert harness.customer(canonical_id)["name"] == "Initech Renamed"
    (row,) = harness.conflicts()
    assert (row.field, row.target_value, row.decision) == ("name", "Billing's Name", "source")


def test_target_wins_per_field_policy_overrides_the_entity_default(harness: Harness) -> None:
    harness.policy("source_wins", account=EntityConflictSettings(fields={"phone": "target_wins"}))
    canonical_id, _ = _conflict_after_both_edit(harness)

    harness.run()

    assert harness.customer(canonical_id)["phone"] == "+1 212 555 0199"
    (row,) = harness.conflicts()
    assert (row.policy, row.decision) == ("target_wins", "target")


def test_manual_holds_the_record_until_resolved_from_the_cli(
    harness: Harness, tmp_path: Path
) -> None:
    harness.policy("manual")
    canonical_id, original_phone = _conflict_after_both_edit(harness)

    summary = harness.run()

    customer = harness.customer(canonical_id)
    assert (customer["name"], customer["phone"]) != ("Initech Renamed", original_phone)
    assert customer["phone"] == "+1 212 555 0199"
    (row,) = harness.conflicts()
    assert (row.status, row.decision, row.run_id) == ("open", "held", summary.run_id)
    assert summary.systems["billing"].conflicts == 1
    assert summary.systems["billing"].updated == 0

    config = tmp_path / "revbridge.yaml"
    document = harness.sandboxes.settings_document(
        str(harness.store.engine.url.render_as_string(False))
    )
    config.write_text(yaml.safe_dump(document))
    runner = CliRunner()
    listed = runner.invoke(conflicts_app, ["list", "-c", str(config), "--status", "open"])
    assert listed.exit_code == 0, listed.output
    assert canonical_id[:8] in listed.output
    resolved = runner.invoke(
        conflicts_app,
        ["resolve", str(row.id), "--take", "source", "-c", str(config), "--note", "confirmed"],
    )
    assert resolved.exit_code == 0, resolved.output
    with harness.store.engine.connect() as connection:
        (audit,) = list_audit(connection)
    assert (audit.actor, audit.actor_kind) == (cli_actor().name, "cli_os_user")
    assert (audit.action, audit.note) == ("conflict.resolve", "confirmed")
    assert [ref.conflict_id for ref in audit.records] == [row.id]

    customer = harness.customer(canonical_id)
    assert (customer["name"], customer["phone"]) == ("Initech Renamed", original_phone)
    (row,) = harness.conflicts()
    assert (row.status, row.resolution) == ("resolved", "source")
    # Written and recorded: the next run has nothing to send and nothing to hold.
    assert harness.run().written == 0


def test_erp_target_change_is_kept_under_merge(harness: Harness) -> None:
    harness.policy("merge")
    harness.run()
    canonical_id = harness.account_id()
    with open_connectors(harness.settings) as connectors:
        erp = connectors["erp"]
        assert isinstance(erp, ErpConnector)
        erp.write(
            WriteSpec("Customer", "externalId"),
            [{"externalId": canonical_id, "phone": "+44 20 7946 0000"}],
        )
    harness.sandboxes.salesforce.update_record("Account", ACCOUNT, {"Name": "Initech Renamed"})

    harness.run()

    with harness.store.engine.connect() as connection:
        internal_id = xref_entries(connection, "erp", [canonical_id])[canonical_id].external_id
    (record,) = [
        r
        for (kind, _), r in harness.sandboxes.erp.records.items()
        if kind == "Customer" and r["internalId"] == internal_id
    ]
    assert (record["companyName"], record["phone"]) == ("Initech Renamed", "+44 20 7946 0000")
    (row,) = harness.conflicts()
    assert (row.target_system, row.field, row.decision) == ("erp", "phone", "target")
