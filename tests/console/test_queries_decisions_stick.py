"""Decisions stick: a resolve or ignore holds while the record and its mapping are unchanged."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from sync.store import Store
from sync.store.audit import Actor, ActorKind, AuditFilter, list_audit
from sync.store.error_actions import NoteRequired, close_errors
from sync.store.error_queue import QueuedError, list_errors, queue_error, resolve_landed
from sync.store.runs import start_run
from sync.store.schema import ErrorStage, ErrorStatus, error_attempts

CAROL = Actor("carol", ActorKind.CONSOLE_USER)


def _failure(payload: dict[str, Any], mapping_version: str = "m1") -> QueuedError:
    return QueuedError(
        flow="quote-to-cash", entity="order", source_system="salesforce", source_object="Order",
        source_id="801A", stage=ErrorStage.MAP, error_class="ValidationError",
        message="Status 'Pending' is not mapped", payload=payload, canonical_id=None,
        mapping_version=mapping_version,
    )  # fmt: skip


def _queue(store: Store, failure: QueuedError) -> None:
    with store.transaction() as connection:
        queue_error(connection, failure, start_run(connection, "quote-to-cash"))


def _entries(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return sorted(list_errors(connection, limit=None), key=lambda row: row.id)


def _close(store: Store, status: ErrorStatus, note: str = "known bad test order") -> None:
    with store.transaction() as connection:
        ids = [row.id for row in list_errors(connection, status=ErrorStatus.OPEN, limit=None)]
        assert close_errors(connection, ids, status, CAROL, note) == len(ids)


@pytest.mark.parametrize("status", [ErrorStatus.IGNORED, ErrorStatus.RESOLVED])
def test_the_same_unchanged_failure_stays_closed(store: Store, status: ErrorStatus) -> None:
    _queue(store, _failure({"Id": "801A", "Status": "Pending", "b": 1}))
    _close(store, status)

    # The same record again, its fields in another order, as a backfill reads it.
    _queue(store, _failure({"b": 1, "Status": "Pending", "Id": "801A"}))

    (entry,) = _entries(store)
    assert (entry.status, entry.closed_by) == (status, "carol")


def test_a_changed_record_opens_a_new_entry_linking_to_the_closed_one(store: Store) -> None:
    _queue(store, _failure({"Id": "801A", "Status": "Pending"}))
    _close(store, ErrorStatus.IGNORED)

    _queue(store, _failure({"Id": "801A", "Status": "Pending", "Amount": 5}))

    old, new = _entries(store)
    assert (old.status, new.status) == (ErrorStatus.IGNORED, ErrorStatus.OPEN)
    assert new.previous_id == old.id


def test_a_changed_mapping_opens_a_new_entry(store: Store) -> None:
    _queue(store, _failure({"Id": "801A"}, mapping_version="m1"))
    _close(store, ErrorStatus.RESOLVED)

    _queue(store, _failure({"Id": "801A"}, mapping_version="m2"))

    old, new = _entries(store)
    assert new.status is ErrorStatus.OPEN
    assert new.previous_id == old.id


def test_an_entry_closed_because_the_record_landed_does_not_hold_back_a_new_failure(
    store: Store,
) -> None:
    _queue(store, _failure({"Id": "801A"}))
    with store.transaction() as connection:
        resolve_landed(connection, "order", "salesforce", ["801A"])

    _queue(store, _failure({"Id": "801A"}))

    old, new = _entries(store)
    assert old.closed_by is None
    assert new.status is ErrorStatus.OPEN


def test_each_failure_is_kept_as_an_attempt_with_its_run(store: Store) -> None:
    _queue(store, _failure({"Id": "801A"}))
    _queue(store, _failure({"Id": "801A"}))

    (entry,) = _entries(store)
    with store.engine.connect() as connection:
        attempts = connection.execute(
            sa.select(error_attempts.c.run_id).where(error_attempts.c.error_id == entry.id)
        ).all()
    assert entry.attempts == 2
    assert len({row.run_id for row in attempts}) == 2


def test_closing_writes_one_audit_row_naming_every_entry(store: Store) -> None:
    _queue(store, _failure({"Id": "801A"}))
    _close(store, ErrorStatus.IGNORED, note="  duplicate of 801B  ")

    (entry,) = _entries(store)
    with store.engine.connect() as connection:
        (audit,) = list_audit(connection, AuditFilter(error_ids=(entry.id,)))
    assert (audit.actor, audit.action, audit.note) == ("carol", "error.ignore", "duplicate of 801B")
    assert [ref.source_id for ref in audit.records] == ["801A"]


@pytest.mark.parametrize("note", [None, "", "   \n"])
def test_closing_without_a_note_is_refused_and_changes_nothing(
    store: Store, note: str | None
) -> None:
    _queue(store, _failure({"Id": "801A"}))
    (entry,) = _entries(store)

    with pytest.raises(NoteRequired), store.transaction() as connection:
        close_errors(connection, [entry.id], ErrorStatus.IGNORED, CAROL, note)

    (after,) = _entries(store)
    assert after.status is ErrorStatus.OPEN
    with store.engine.connect() as connection:
        assert list_audit(connection) == []
