"""Stripe status changes reach Salesforce: events name what changed since the last run.

Quote-to-cash writes orders to the Stripe sandbox, every customer is billed, and a
``receivables`` flow from billing carries the open invoices to the ERP and Salesforce Billing.
Then an invoice is paid, voided, written off or its charge partly refunded in Stripe; the next
run reads the events since its cursor, fetches each object they name as it is now, and
Salesforce shows the new status and balance (``Revbridge_Balance__c``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Cursor
from connectors.billing.stripe.position import StripePosition
from sync.cli.sandboxes import Sandboxes
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.stats import RunSummary
from sync.store.cursors import load_cursor, save_cursor
from tests.integration.test_stripe_inbound import (
    SIZE,
    _bill_every_customer,
    _make_every_other_line_one_time,
    mappings_dir,
)
from tests.integration.test_stripe_money import _spec, conformance_problems, money_moves
from tests.integration.test_stripe_salesforce_billing import BilledHarness

__all__ = ["mappings_dir"]  # the fixture, shared with test_stripe_inbound
RECEIVABLES = Flow(name="receivables", source="billing", targets=("erp", "salesforce"))
DAY = 86400


@pytest.fixture
def synced(database_url: str, mappings_dir: Path) -> Iterator[BilledHarness]:
    """Every customer billed in Stripe, and one receivables run since: all invoices open."""
    with Sandboxes(SIZE) as sandboxes:
        _make_every_other_line_one_time(sandboxes)
        harness = BilledHarness(sandboxes, database_url, mappings_dir)
        assert harness.run(QUOTE_TO_CASH).rejected == 0
        harness.invoices = _bill_every_customer(harness.billing)
        assert len(harness.invoices) >= 3, "the sample orders need one-time lines on 3 customers"
        first = harness.run(RECEIVABLES)
        assert (first.rejected, first.status.value) == (0, "succeeded"), first.message
        yield harness
        harness.store.close()


def _run(harness: BilledHarness) -> RunSummary:
    summary = harness.run(RECEIVABLES)
    assert (summary.rejected, summary.status.value) == (0, "succeeded"), summary.message
    return summary


def _canonical_id(harness: BilledHarness, entity: str, stripe_id: str) -> str:
    (found,) = [r["id"] for r in harness.stored(entity) if r["source"]["id"] == stripe_id]
    return str(found)


def _in_salesforce(harness: BilledHarness, object_name: str, canonical_id: str) -> dict[str, Any]:
    (row,) = [
        r for r in harness.salesforce.records(object_name) if r["Revbridge_Id__c"] == canonical_id
    ]
    return row


def _invoice_in_salesforce(harness: BilledHarness, stripe_id: str) -> dict[str, Any]:
    return _in_salesforce(harness, "blng__Invoice__c", _canonical_id(harness, "invoice", stripe_id))


def _status_and_balance(harness: BilledHarness, stripe_id: str) -> tuple[str, float]:
    row = _invoice_in_salesforce(harness, stripe_id)
    return row["blng__InvoiceStatus__c"], row["Revbridge_Balance__c"]


def _stored_status(harness: BilledHarness, stripe_id: str) -> str:
    (status,) = [r["status"] for r in harness.stored("invoice") if r["source"]["id"] == stripe_id]
    return str(status)


def _total(invoice: dict[str, Any]) -> float:
    return float(Decimal(invoice["total"]) / 100)


def test_synced_invoices_start_open_with_their_whole_balance(synced: BilledHarness) -> None:
    for invoice in synced.invoices:
        assert _status_and_balance(synced, invoice["id"]) == ("Posted", _total(invoice))
        assert _stored_status(synced, invoice["id"]) == "open"


def test_an_invoice_paid_after_it_was_synced_reaches_salesforce_paid_with_no_balance(
    synced: BilledHarness,
) -> None:
    paid = synced.invoices[0]
    charge = synced.billing.pay_invoice(paid["id"])

    summary = _run(synced)

    assert _stored_status(synced, paid["id"]) == "paid"
    assert _status_and_balance(synced, paid["id"]) == ("Posted", 0.0)
    payment = _in_salesforce(
        synced, "blng__Payment__c", _canonical_id(synced, "payment", charge["id"])
    )
    assert payment["blng__Invoice__c"] == _invoice_in_salesforce(synced, paid["id"])["Id"]
    assert payment["blng__Amount__c"] == _total(paid)
    # Only what changed went out: the paid invoice and its new payment.
    assert summary.by_entity["invoice"]["salesforce"].updated == 1
    for other in synced.invoices[1:]:
        assert _status_and_balance(synced, other["id"]) == ("Posted", _total(other))


def test_a_voided_invoice_is_cancelled_in_salesforce_and_owes_nothing(
    synced: BilledHarness,
) -> None:
    voided = synced.invoices[1]
    synced.billing.void_invoice(voided["id"])

    _run(synced)

    assert _stored_status(synced, voided["id"]) == "void"
    assert _status_and_balance(synced, voided["id"]) == ("Cancelled", 0.0)


def test_an_invoice_written_off_keeps_its_balance_and_reads_uncollectible(
    synced: BilledHarness,
) -> None:
    written_off = synced.invoices[2]
    synced.billing.mark_uncollectible(written_off["id"])

    _run(synced)

    assert _stored_status(synced, written_off["id"]) == "uncollectible"
    assert _status_and_balance(synced, written_off["id"]) == ("Posted", _total(written_off))


def test_a_partial_refund_lowers_the_payment_in_salesforce_and_the_invoice_stays_paid(
    synced: BilledHarness,
) -> None:
    paid = synced.invoices[0]
    charge = synced.billing.pay_invoice(paid["id"])
    _run(synced)
    payment_id = _canonical_id(synced, "payment", charge["id"])

    synced.billing.refund_charge(charge["id"], 500)
    summary = _run(synced)

    payment = _in_salesforce(synced, "blng__Payment__c", payment_id)
    assert payment["blng__Amount__c"] == _total(paid) - 5.0
    assert payment["blng__Status__c"] == "Posted"
    assert summary.by_entity["payment"]["salesforce"].updated == 1
    # As in Stripe, refunding a charge does not reopen the invoice it paid.
    assert _status_and_balance(synced, paid["id"]) == ("Posted", 0.0)

    synced.billing.refund_charge(charge["id"])  # the rest: refunded in full
    _run(synced)

    assert _in_salesforce(synced, "blng__Payment__c", payment_id)["blng__Status__c"] == "Canceled"


def test_a_credit_note_voided_after_it_was_synced_is_cancelled_in_salesforce(
    synced: BilledHarness,
) -> None:
    note = synced.billing.credit_invoice(synced.invoices[1]["id"], 1250, "duplicate")
    _run(synced)
    memo_id = _canonical_id(synced, "credit_memo", note["id"])
    assert _in_salesforce(synced, "blng__CreditNote__c", memo_id)["blng__Status__c"] == "Posted"

    synced.billing.void_credit_note(note["id"])
    _run(synced)

    assert _in_salesforce(synced, "blng__CreditNote__c", memo_id)["blng__Status__c"] == "Cancelled"


def _change_three_invoices(harness: BilledHarness) -> None:
    paid, voided, written_off = harness.invoices[:3]
    harness.billing.pay_invoice(paid["id"])
    harness.billing.void_invoice(voided["id"])
    harness.billing.mark_uncollectible(written_off["id"])


def _assert_three_changes_landed(harness: BilledHarness) -> None:
    paid, voided, written_off = harness.invoices[:3]
    assert _status_and_balance(harness, paid["id"]) == ("Posted", 0.0)
    assert _status_and_balance(harness, voided["id"]) == ("Cancelled", 0.0)
    assert _status_and_balance(harness, written_off["id"]) == ("Posted", _total(written_off))
    assert [_stored_status(harness, i["id"]) for i in (paid, voided, written_off)] == [
        "paid",
        "void",
        "uncollectible",
    ]


def test_events_read_twice_late_or_out_of_order_leave_the_same_final_state(
    synced: BilledHarness,
) -> None:
    _change_three_invoices(synced)
    # Old events again, newest of all now, with the snapshots of when the invoices were open.
    old = [
        e
        for e in synced.billing.stripe_events()
        if e["type"] in ("invoice.finalized", "invoice.created")
    ]
    for event in reversed(old):
        synced.billing.resend_stripe_event(event["id"])
    paid_event = next(e for e in synced.billing.stripe_events() if e["type"] == "invoice.paid")
    synced.billing.resend_stripe_event(paid_event["id"])

    _run(synced)
    _assert_three_changes_landed(synced)

    for event in old[:2]:
        synced.billing.resend_stripe_event(event["id"])
    again = _run(synced)

    _assert_three_changes_landed(synced)
    assert again.written == 0


def test_a_run_with_no_new_events_fetches_no_object_and_writes_nothing(
    synced: BilledHarness,
) -> None:
    before = len(synced.billing.stripe_requests)

    summary = _run(synced)

    sent = synced.billing.stripe_requests[before:]
    assert summary.written == 0
    assert {r.path for r in sent if r.method == "GET"} <= {
        "/v1/events",
        "/v1/invoices",
        "/v1/charges",
        "/v1/credit_notes",
    }
    events_reads = [r for r in sent if r.path == "/v1/events"]
    assert len(events_reads) == 3  # one per entity: invoices, payments, credit notes
    assert all("types[]" in r.query_names for r in events_reads)
    # Invoices had events: listed from the newest one read. No charge or credit note had any.
    assert ["created[gte]" in r.query_names for r in events_reads] == [True, False, False]


def _age_event_positions(harness: BilledHarness, days: int) -> None:
    """Make the stored cursors say events were last listed ``days`` ago."""
    with harness.store.transaction() as connection:
        for entity in ("invoice", "payment", "credit_memo"):
            cursor = load_cursor(connection, RECEIVABLES.name, "billing", entity)
            assert cursor is not None, entity
            position = StripePosition.from_cursor(cursor)
            assert position.events_read_at is not None, cursor
            aged = replace(position, events_read_at=position.events_read_at - days * DAY)
            save_cursor(connection, RECEIVABLES.name, "billing", entity, aged.to_cursor(), 0)


def test_a_cursor_older_than_stripes_30_days_of_events_rereads_the_invoices_with_a_warning(
    synced: BilledHarness, caplog: pytest.LogCaptureFixture
) -> None:
    _change_three_invoices(synced)
    synced.billing.purge_stripe_events()  # as Stripe does after 30 days
    _age_event_positions(synced, 31)

    with caplog.at_level(logging.WARNING, logger="connectors.billing.stripe.changes"):
        _run(synced)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Stripe invoices" in w and "31 days ago" in w for w in warnings), warnings
    _assert_three_changes_landed(synced)
    # The next run is incremental again: no warning, nothing written.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="connectors.billing.stripe.changes"):
        assert _run(synced).written == 0
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_a_cursor_within_the_30_days_reads_only_events_and_no_warning(
    synced: BilledHarness, caplog: pytest.LogCaptureFixture
) -> None:
    _change_three_invoices(synced)
    _age_event_positions(synced, 20)
    before = len(synced.billing.stripe_requests)

    with caplog.at_level(logging.WARNING, logger="connectors.billing.stripe.changes"):
        _run(synced)

    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    _assert_three_changes_landed(synced)
    fetched = {r.path for r in synced.billing.stripe_requests[before:] if r.path.count("/") == 3}
    assert {f"/v1/invoices/{i['id']}" for i in synced.invoices[:3]} <= fetched
    untouched = {f"/v1/invoices/{invoice['id']}" for invoice in synced.invoices[3:]}
    assert not untouched & fetched


def test_a_cursor_from_before_events_were_read_rereads_with_a_warning(
    synced: BilledHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with synced.store.transaction() as connection:
        cursor = load_cursor(connection, RECEIVABLES.name, "billing", "invoice")
        assert cursor is not None
        legacy = Cursor(cursor.modified, StripePosition.from_cursor(cursor).object_id)
        save_cursor(connection, RECEIVABLES.name, "billing", "invoice", legacy, 0)
    synced.billing.void_invoice(synced.invoices[1]["id"])
    synced.billing.purge_stripe_events()

    with caplog.at_level(logging.WARNING, logger="connectors.billing.stripe.changes"):
        _run(synced)

    assert any("never read" in r.getMessage() for r in caplog.records)
    assert _status_and_balance(synced, synced.invoices[1]["id"]) == ("Cancelled", 0.0)


def test_every_request_of_the_event_reads_is_in_stripes_spec_and_moves_no_money(
    synced: BilledHarness, reference_dir: Path
) -> None:
    before = len(synced.billing.stripe_requests)
    _change_three_invoices(synced)
    _run(synced)  # events since the cursor
    _age_event_positions(synced, 31)
    _run(synced)  # a full re-read

    spec = _spec(reference_dir)
    sent = synced.billing.stripe_requests[before:]
    assert {r.method for r in sent} == {"GET"}
    assert "/v1/events" in {r.path for r in sent}
    assert [p for r in sent for p in conformance_problems(spec, r)] == []
    assert [m for r in sent for m in money_moves(r)] == []
