"""A record's journey: found by any of its ids, its history in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.store import Store
from sync.store.audit import Actor, ActorKind, AuditAction, RecordRef, record_action
from sync.store.conflict_log import ConflictEntry, log_conflicts
from sync.store.error_queue import QueuedError, queue_error
from sync.store.journey import find_journeys
from sync.store.journey_history import EventKind
from sync.store.records import StoredRecord, XrefEntry, save_records, save_xrefs
from sync.store.runs import start_run
from sync.store.schema import ErrorStage

MODIFIED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ORDER = StoredRecord(
    canonical_id="ord-1", entity="order", payload={"number": "O-1", "total": "10.00"},
    content_hash="h1", source_system="salesforce", source_object="Order",
    source_id="8015g00000001AAA", source_modified_at=MODIFIED,
)  # fmt: skip


@pytest.fixture
def journeyed(store: Store) -> Store:
    """An order captured, written to billing, rejected by the ERP twice, a conflict, an action."""
    with store.transaction() as connection:
        run_id = start_run(connection, "quote-to-cash")
        save_records(connection, [ORDER], run_id)
        save_xrefs(connection, [
            XrefEntry("salesforce", "ord-1", "order", "Order", "8015g00000001AAA"),
            XrefEntry("billing", "ord-1", "order", "orders", "in_42", "hb",
                      last_written_payload={"amount": 1000}),
            XrefEntry("erp", "ord-1", "order", "salesOrder", "9911"),
        ], run_id)  # fmt: skip
        failure = QueuedError(
            flow="quote-to-cash", entity="order", source_system="salesforce",
            source_object="Order", source_id="8015g00000001AAA", stage=ErrorStage.WRITE,
            error_class="RecordRejected", message="<b>bad</b> subsidiary",
            payload={"amount": 1000}, canonical_id="ord-1", target_system="erp",
        )  # fmt: skip
        queue_error(connection, failure, run_id)
        queue_error(connection, failure, start_run(connection, "quote-to-cash"))
        log_conflicts(connection, [ConflictEntry(
            entity="order", canonical_id="ord-1", target_system="billing", field="amount",
            base_value=900, source_value=1000, target_value=950, policy="source_wins",
            decision="source",
        )], run_id)  # fmt: skip
        record_action(connection, Actor("dora", ActorKind.CONSOLE_USER), AuditAction.ERROR_RETRY,
                      None, [RecordRef(canonical_id="ord-1")])  # fmt: skip
    return store


@pytest.mark.parametrize("any_id", ["ord-1", "8015g00000001AAA", "in_42", "9911", " 9911 "])
def test_any_id_of_the_record_finds_the_same_journey(journeyed: Store, any_id: str) -> None:
    with journeyed.engine.connect() as connection:
        (journey,) = find_journeys(connection, any_id)

    assert journey.canonical_id == "ord-1"
    assert journey.canonical is not None
    assert journey.canonical.payload == ORDER.payload
    assert {s.system: s.external_id for s in journey.systems} == {
        "salesforce": "8015g00000001AAA", "billing": "in_42", "erp": "9911",
    }  # fmt: skip
    billing = next(s for s in journey.systems if s.system == "billing")
    assert billing.last_written_payload == {"amount": 1000}
    assert billing.run_id is not None


def test_history_is_in_time_order_with_every_kind_of_event(journeyed: Store) -> None:
    with journeyed.engine.connect() as connection:
        (journey,) = find_journeys(connection, "9911")

    kinds = [event.kind for event in journey.events]
    assert kinds.count(EventKind.REJECTED) == 1
    assert kinds.count(EventKind.RETRIED) == 1
    assert {EventKind.CAPTURED, EventKind.WRITTEN, EventKind.CONFLICT, EventKind.ACTION} <= set(
        kinds
    )
    assert [e.at for e in journey.events] == sorted(e.at for e in journey.events)
    (action,) = [e for e in journey.events if e.kind is EventKind.ACTION]
    assert action.summary == "dora error.retry"
    assert [row.attempts for row in journey.errors] == [2]


def test_a_record_that_never_mapped_has_a_journey_of_its_errors(store: Store) -> None:
    with store.transaction() as connection:
        failure = QueuedError(
            flow="quote-to-cash", entity="order", source_system="salesforce",
            source_object="Order", source_id="801NEVER", stage=ErrorStage.MAP,
            error_class="ValidationError", message="Status not mapped", payload={"Id": "x"},
        )  # fmt: skip
        queue_error(connection, failure, start_run(connection, "quote-to-cash"))

    with store.engine.connect() as connection:
        (journey,) = find_journeys(connection, "801NEVER")
    assert journey.canonical_id is None
    assert journey.canonical is None
    assert [e.kind for e in journey.events] == [EventKind.REJECTED]


@pytest.mark.parametrize(
    "any_id", ["", "   ", "nope", "%", "' OR 1=1 --", "x" * 10_000, "<script>", "9911\x1b"]
)
def test_unknown_or_hostile_ids_find_nothing(journeyed: Store, any_id: str) -> None:
    with journeyed.engine.connect() as connection:
        assert find_journeys(connection, any_id) == []


def test_a_popular_id_lists_at_most_twenty_records(store: Store) -> None:
    with store.transaction() as connection:
        run_id = start_run(connection, "quote-to-cash")
        records = [
            StoredRecord(f"acc-{n}", "account", {}, "h", f"system-{n}", "Account", "shared",
                         MODIFIED + timedelta(seconds=n))
            for n in range(25)
        ]  # fmt: skip
        save_records(connection, records, run_id)

    with store.engine.connect() as connection:
        assert len(find_journeys(connection, "shared")) == 20
