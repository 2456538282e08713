"""The outbox on SQLite and PostgreSQL: one event per canonical change, in commit order, and
none for a change whose transaction rolled back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sync.store import Store
from sync.store.error_queue import QueuedError
from sync.store.outbox import (
    ChangeType,
    PageChanges,
    SinkFilter,
    mark_published,
    note_failure,
    pending_events,
    record_page_events,
    sink_status,
)
from sync.store.records import XrefEntry, canonical_row, save_record_rows, save_xrefs
from sync.store.schema import ErrorStage, utc_now

MODIFIED = datetime(2026, 12, 1, tzinfo=UTC)


def _row(canonical_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return canonical_row(
        canonical_id, "order", payload, f"h-{payload}", "salesforce", "Order",
        f"sf-{canonical_id}", MODIFIED, None, utc_now(), 1,
    )  # fmt: skip


def _commit(store: Store, page: PageChanges) -> None:
    with store.transaction() as connection:
        record_page_events(connection, page)
        save_record_rows(connection, list(page.rows))
        save_xrefs(connection, list(page.xrefs), page.run_id)


def _all(store: Store, sink: str = "nats") -> list[Any]:
    with store.transaction() as connection:
        return pending_events(connection, SinkFilter(sink, ["orders"]), 1000)


def test_created_then_updated_then_deleted_record_gives_three_events_in_order(store: Store) -> None:
    first = _row("ord-1", {"id": "ord-1", "status": "draft", "total": "10.00"})
    xref = XrefEntry("billing", "ord-1", "order", "invoice", "in_9")
    _commit(store, PageChanges("orders", "order", 1, [first], xrefs=[xref]))
    second = _row("ord-1", {"id": "ord-1", "status": "activated", "total": "10.00"})
    _commit(store, PageChanges("orders", "order", 2, [second]))
    _commit(store, PageChanges("orders", "order", 3, deleted_ids=["ord-1"]))
    events = _all(store)
    assert [e.change for e in events] == [
        ChangeType.CREATED,
        ChangeType.UPDATED,
        ChangeType.DELETED,
    ]
    assert [e.sequence for e in events] == sorted(e.sequence for e in events)
    assert events[0].data["ids"] == {"salesforce": "sf-ord-1", "billing": "in_9"}
    assert events[1].data["changes"] == {"status": {"old": "draft", "new": "activated"}}
    assert events[1].data["record"]["status"] == "activated"
    assert events[2].data["record"]["status"] == "activated"
    assert events[2].data["ids"] == {"billing": "in_9"}
    assert len({e.event_id for e in events}) == 3


def test_a_rolled_back_page_leaves_no_event(store: Store) -> None:
    row = _row("ord-2", {"id": "ord-2", "status": "draft"})

    def crash_mid_page() -> None:
        with store.transaction() as connection:
            record_page_events(connection, PageChanges("orders", "order", 1, [row]))
            raise RuntimeError("crash before the cursor is saved")

    with pytest.raises(RuntimeError):
        crash_mid_page()
    assert _all(store) == []


def test_rejected_record_is_an_event_with_its_reason_and_hostile_text_kept_as_data(
    store: Store,
) -> None:
    message = "bad <script>alert(1)</script>\x07 value " + "x" * 10_000
    error = QueuedError(
        flow="orders", entity="order", source_system="salesforce", source_object="Order",
        source_id="801\x00x" + "9" * 300, stage=ErrorStage.VALIDATE, error_class="ValidationError",
        message=message, payload={"Id": "801"},
    )  # fmt: skip
    with store.transaction() as connection:
        record_page_events(connection, PageChanges("orders", "order", 1, errors=[error]))
    [event] = _all(store)
    assert event.change is ChangeType.REJECTED
    assert event.data["rejection"]["message"] == message
    assert event.data["rejection"]["stage"] == "validate"
    assert event.subject == ("801\ufffdx" + "9" * 300)[:255]


def test_an_update_with_no_canonical_change_writes_no_event(store: Store) -> None:
    row = _row("ord-3", {"id": "ord-3", "status": "draft"})
    _commit(store, PageChanges("orders", "order", 1, [row]))
    _commit(store, PageChanges("orders", "order", 2, [row]))
    assert [e.change for e in _all(store)] == [ChangeType.CREATED]


def test_published_events_leave_the_sinks_pending_list_and_status_counts_them(
    store: Store,
) -> None:
    rows = [_row(f"ord-{n}", {"id": f"ord-{n}"}) for n in range(3)]
    _commit(store, PageChanges("orders", "order", 1, rows))
    first = _all(store)[0]
    with store.transaction() as connection:
        mark_published(connection, "nats", [first.sequence])
        note_failure(connection, "nats", "connection refused")
    assert [e.subject for e in _all(store)] == ["ord-1", "ord-2"]
    assert len(_all(store, sink="other")) == 3  # each sink keeps its own deliveries
    with store.transaction() as connection:
        status = sink_status(connection, SinkFilter("nats", ["orders"]))
        filtered = pending_events(
            connection, SinkFilter("x", ["orders"], changes=[ChangeType.DELETED]), 10
        )
        other_flow = pending_events(connection, SinkFilter("x", ["invoices"]), 10)
    assert (status.pending, status.published, status.failures) == (2, 1, 1)
    assert status.last_error == "connection refused"
    assert status.oldest_pending_at is not None
    assert filtered == []
    assert other_flow == []
