"""`revbridge reconcile` over the real wire: sandboxes seeded with discrepancies, both databases.

A quote-to-cash run lands the CPQ data in billing and the ERP; then a person edits an order's
total in billing, deletes a customer there and creates a product by hand with a marker. The
reconcile must find exactly those (and the orders nobody invoiced), with the right amounts;
fixing each resolves it on the next reconcile.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner, Result

from mappings.loader import load_mapping_set
from sandboxes.discrepancies import (
    billing_object,
    create_billing_object,
    delete_billing_object,
    edit_billing_object,
)
from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.engine.flows import QUOTE_TO_CASH
from sync.store import Store
from sync.store.findings import open_findings
from sync.store.records import StoredRecord, iter_stored, save_records
from sync.store.schema import canonical_records, error_queue, xref
from tests.integration.cpq_harness import cpq_sandboxes, run_flow

SIZE = SandboxSize(accounts=3, orders=6, products=3, invalid_records=False, page_size=200)
runner = CliRunner()


@dataclass
class Project:
    sandboxes: Sandboxes
    store: Store
    config: Path

    def reconcile(self, *options: str) -> Result:
        arguments = ["reconcile", "-c", str(self.config), "--flow", "quote-to-cash", *options]
        return runner.invoke(app, arguments)

    def findings(self, *options: str) -> list[dict[str, Any]]:
        result = self.reconcile("--json", *options)
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def project(store: Store, tmp_path: Path) -> Iterator[Project]:
    with cpq_sandboxes(SIZE) as sandboxes:
        run_flow(sandboxes, store, load_mapping_set(), QUOTE_TO_CASH, page_size=SIZE.page_size)
        config = tmp_path / "revbridge.yaml"
        document = sandboxes.settings_document(store.url)
        # Few, short retries: a target that stays down fails the command in well under a second.
        document["retry"] = {"attempts": 3, "max_wait_seconds": 0.2}
        write_sandbox_config(config, document)
        yield Project(sandboxes, store, config)


def _unbilled_orders(store: Store) -> dict[str, int]:
    """Activated orders effective over 7 days ago: canonical id -> total in cents."""
    cutoff = datetime.now(UTC).date() - timedelta(days=7)
    with store.engine.connect() as connection:
        return {
            r.canonical_id: int(Decimal(r.payload["total"]) * 100)
            for batch in iter_stored(connection, "order")
            for r in batch
            if r.payload["status"] == "activated"
            and date.fromisoformat(r.payload["effective_date"]) <= cutoff
        }


def _by_kind(findings: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [finding for finding in findings if finding["kind"] == kind]


def test_a_clean_sync_shows_only_the_orders_nobody_invoiced_with_their_value(
    project: Project,
) -> None:
    expected = _unbilled_orders(project.store)
    findings = project.findings()
    assert expected, "the seed has activated orders past the grace period"
    assert {f["kind"] for f in findings} == {"unbilled"}
    assert {f["canonical_id"]: f["amount_at_risk"] for f in findings} == {
        cid: format(Decimal(cents).scaleb(-2), "f") for cid, cents in expected.items()
    }


def test_each_seeded_discrepancy_is_found_once_and_resolves_when_fixed(project: Project) -> None:
    billing = project.sandboxes.billing
    order = billing.resources("orders")[0]
    contact = billing.resources("contacts")[-1]
    edit_billing_object(billing, "orders", order["external_id"], {"total": "1.00"})
    delete_billing_object(billing, "contacts", contact["external_id"])
    stranger = str(uuid.uuid4())
    create_billing_object(
        billing, "products", {"external_id": stranger, "name": "hand made", "sku": "HM-1"}
    )

    findings = project.findings()
    (mismatch,) = _by_kind(findings, "amount_mismatch")
    (missing,) = _by_kind(findings, "missing_in_target")
    (unknown,) = _by_kind(findings, "unknown_in_target")
    assert _by_kind(findings, "drift") == []
    total_cents = int(Decimal(order["total"]) * 100)
    assert (mismatch["canonical_id"], mismatch["system"]) == (order["external_id"], "billing")
    assert (mismatch["expected"], mismatch["actual"]) == (total_cents, 100)
    assert mismatch["amount_at_risk"] == format(Decimal(total_cents - 100).scaleb(-2), "f")
    assert (missing["canonical_id"], missing["entity"]) == (contact["external_id"], "contact")
    assert missing["system_ids"] == {"billing": contact["id"]}
    assert (unknown["entity"], unknown["actual"]) == ("product", stranger)

    # Fixed: the total put back, the contact sent again, the stray product deleted.
    edit_billing_object(billing, "orders", order["external_id"], {"total": order["total"]})
    resent = runner.invoke(
        app,
        ["resend", "-c", str(project.config), "--target", "billing", "--entity", "contact"],
    )
    assert resent.exit_code == 0, resent.output
    delete_billing_object(billing, "products", stranger)
    assert {f["kind"] for f in project.findings()} == {"unbilled"}
    with project.store.engine.connect() as connection:
        assert {f.finding.kind for f in open_findings(connection)} == {"unbilled"}


def test_a_changed_field_is_drift_with_both_values_rendered_as_text(project: Project) -> None:
    billing = project.sandboxes.billing
    customer = billing.resources("customers")[0]
    hostile = '[red]Acme[/red] =HYPERLINK("x")\x1b[2J\u202e'
    edit_billing_object(billing, "customers", customer["external_id"], {"name": hostile})

    (drift,) = _by_kind(project.findings(), "drift")
    assert (drift["field"], drift["expected"], drift["actual"]) == (
        "name",
        customer["name"],
        hostile,
    )
    table = project.reconcile()
    assert table.exit_code == 0
    assert "[red]Acme[/red]" in table.stdout
    assert "\x1b" not in table.stdout
    assert "\u202e" not in table.stdout
    csv_out = project.reconcile("--format", "csv").stdout
    assert "'=HYPERLINK" not in csv_out  # the cell starts with "[", not a formula
    assert csv_out.splitlines()[0].startswith("kind,severity,flow")


def test_a_hand_made_formula_marker_is_neutralised_in_csv(project: Project) -> None:
    billing = project.sandboxes.billing
    create_billing_object(
        billing, "products", {"external_id": "=cmd|'/c calc'!A1", "name": "x", "sku": "X"}
    )
    csv_out = project.reconcile("--format", "csv").stdout
    assert "'=cmd|" in csv_out


def test_an_unbilled_order_resolves_once_an_invoice_for_it_is_captured(project: Project) -> None:
    unbilled = _unbilled_orders(project.store)
    order_id = sorted(unbilled)[0]
    project.findings()
    invoice = StoredRecord(
        canonical_id=str(uuid.uuid4()),
        entity="invoice",
        payload={"order_id": order_id, "currency": "USD", "total": "1.00"},
        content_hash="x",
        source_system="erp",
        source_object="Invoice",
        source_id="INV-1",
        source_modified_at=datetime.now(UTC),
    )
    with project.store.transaction() as connection:
        save_records(connection, [invoice], run_id=0)
    ids = {f["canonical_id"] for f in project.findings()}
    assert ids == set(unbilled) - {order_id}
    with project.store.engine.connect() as connection:
        assert order_id not in {f.finding.canonical_id for f in open_findings(connection)}


def test_fail_on_exits_1_when_a_finding_at_or_above_the_severity_exists(project: Project) -> None:
    assert project.reconcile("--fail-on", "error").exit_code == 1
    assert project.reconcile("--fail-on", "critical").exit_code == 0
    assert project.reconcile("--fail-on", "bogus").exit_code == 2


def test_a_billing_api_that_is_down_stops_with_one_line_and_records_nothing(
    project: Project,
) -> None:
    billing = project.sandboxes.billing
    delete_billing_object(billing, "contacts", billing.resources("contacts")[0]["external_id"])
    billing.inject_rate(1.0, 503)
    result = project.reconcile()
    billing.clear_faults()
    assert result.exit_code == 4
    assert "nothing was recorded" in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    with project.store.engine.connect() as connection:
        assert open_findings(connection) == []


def test_an_erp_that_drops_every_reply_stops_with_one_line_and_records_nothing(
    project: Project,
) -> None:
    project.sandboxes.erp.inject_fault("drop", times=50)
    result = project.reconcile()
    assert result.exit_code == 4
    assert "[erp]" in result.stderr
    assert "nothing was recorded" in result.stderr
    assert "Traceback" not in result.output
    with project.store.engine.connect() as connection:
        assert open_findings(connection) == []


def test_a_billing_api_that_times_out_stops_with_one_line_and_records_nothing(
    project: Project,
) -> None:
    document = yaml.safe_load(project.config.read_text(encoding="utf-8"))
    document["billing"]["timeout_seconds"] = 0.2
    write_sandbox_config(project.config, document)
    project.sandboxes.billing.set_latency(1.0)
    result = project.reconcile()
    project.sandboxes.billing.set_latency(0.0)
    assert result.exit_code == 4
    assert "[billing]" in result.stderr
    assert "timed out" in result.stderr.lower() or "timeout" in result.stderr.lower()
    assert "Traceback" not in result.output
    with project.store.engine.connect() as connection:
        assert open_findings(connection) == []


def test_each_target_object_is_listed_in_the_fewest_pages(project: Project) -> None:
    billing = project.sandboxes.billing
    before = billing.calls
    project.findings("--entity", "order")
    # One collection (orders), well under the 1,000 a page the generic API allows.
    assert billing.calls - before == 1


def test_a_429_with_retry_after_is_honoured_and_the_reconcile_completes(project: Project) -> None:
    project.sandboxes.billing.inject_fault(429, {"Retry-After": "0"}, times=2)
    kinds = {f["kind"] for f in project.findings()}
    assert kinds == {"unbilled"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--flow", "nope"], "no flow 'nope'"),
        (["--entity", "ordr"], "no entity 'ordr'"),
        (["--since", "yesterday"], "yesterday"),
    ],
)
def test_operator_mistakes_get_one_line_and_exit_2(
    project: Project, options: list[str], message: str
) -> None:
    result = runner.invoke(app, ["reconcile", "-c", str(project.config), *options])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_missing_config_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["reconcile", "-c", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_the_billing_object_helper_names_a_marker_it_cannot_find(project: Project) -> None:
    with pytest.raises(KeyError, match="no orders object"):
        billing_object(project.sandboxes.billing, "orders", "nope")


def test_objects_a_list_read_does_not_show_yet_are_fetched_by_id_not_called_missing(
    store: Store, tmp_path: Path
) -> None:
    # The ERP sandbox on the real clock: NetSuite's search stops a second before now, so the
    # objects the run just wrote are not listed yet, though they are there.
    with Sandboxes(SIZE) as sandboxes:
        run_flow(sandboxes, store, load_mapping_set(), QUOTE_TO_CASH, page_size=SIZE.page_size)
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, sandboxes.settings_document(store.url))
        sandboxes.erp.delete("Customer", billing_object_marker(sandboxes))
        result = runner.invoke(
            app, ["reconcile", "-c", str(config), "--flow", "quote-to-cash", "--json"]
        )
    assert result.exit_code == 0, result.output
    missing = [
        json.loads(line)
        for line in result.stdout.splitlines()
        if json.loads(line)["kind"] == "missing_in_target"
    ]
    assert [(f["system"], f["entity"]) for f in missing] == [("erp", "account")]


def billing_object_marker(sandboxes: Sandboxes) -> str:
    """The canonical id (revbridge's marker) of the first customer revbridge wrote."""
    return str(sandboxes.billing.resources("customers")[0]["external_id"])


def test_since_checks_only_records_written_since_and_resolves_nothing(project: Project) -> None:
    billing = project.sandboxes.billing
    delete_billing_object(billing, "contacts", billing.resources("contacts")[0]["external_id"])
    assert _by_kind(project.findings(), "missing_in_target")
    # Nothing was written after 2999-01-01: no record is checked, and the open finding stays.
    later = project.findings("--since", "2999-01-01")
    assert _by_kind(later, "missing_in_target") == []
    with project.store.engine.connect() as connection:
        kinds = {f.finding.kind for f in open_findings(connection)}
    assert "missing_in_target" in kinds


def _queue_for(store: Store, canonical_id: str, target: str, status: str) -> None:
    """An error-queue entry for the stored record's delivery to ``target``."""
    now = datetime.now(UTC)
    with store.transaction() as connection:
        record = connection.execute(
            sa.select(canonical_records).where(canonical_records.c.canonical_id == canonical_id)
        ).one()
        connection.execute(sa.delete(error_queue).where(error_queue.c.canonical_id == canonical_id))
        connection.execute(
            sa.insert(error_queue).values(
                flow="quote-to-cash", entity=record.entity, source_system=record.source_system,
                source_object=record.source_object, source_id=record.source_id,
                canonical_id=canonical_id, target_system=target, stage="deliver",
                error_class="RecordRejected", message="refused", status=status,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip


def test_a_record_never_written_to_a_target_is_missing_unless_it_waits_in_the_queue(
    project: Project,
) -> None:
    billing = project.sandboxes.billing
    canonical_id = billing.resources("contacts")[0]["external_id"]
    # Lost without trace: the object gone and revbridge holding no id for it there.
    delete_billing_object(billing, "contacts", canonical_id)
    with project.store.transaction() as connection:
        connection.execute(
            sa.delete(xref).where(xref.c.system == "billing", xref.c.canonical_id == canonical_id)
        )

    (missing,) = _by_kind(project.findings(), "missing_in_target")
    assert (missing["canonical_id"], missing["entity"], missing["system"]) == (
        canonical_id,
        "contact",
        "billing",
    )
    assert missing["system_ids"] == {}

    for waiting in ("open", "retrying", "ignored"):  # queued, deferred or set aside: not lost
        _queue_for(project.store, canonical_id, "billing", waiting)
        assert _by_kind(project.findings(), "missing_in_target") == [], waiting
    _queue_for(project.store, canonical_id, "erp", "open")  # waiting for another target only
    assert len(_by_kind(project.findings(), "missing_in_target")) == 1
