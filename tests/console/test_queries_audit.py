"""The audit trail: an action and its audit row commit together, or not at all."""

from __future__ import annotations

import pytest

from sync.store import Store
from sync.store.audit import (
    Actor,
    ActorKind,
    AuditAction,
    AuditFilter,
    RecordRef,
    list_audit,
    record_action,
)

ALICE = Actor("alice", ActorKind.CONSOLE_USER)


def test_an_action_is_listed_with_who_what_note_and_records(store: Store) -> None:
    refs = [
        RecordRef(entity="order", canonical_id="c1", source_system="salesforce", error_id=1),
        RecordRef(entity="order", source_id="801B", error_id=2),
    ]
    with store.transaction() as connection:
        record_action(connection, ALICE, AuditAction.ERROR_IGNORE, "known test data", refs)

    with store.engine.connect() as connection:
        (entry,) = list_audit(connection)
    assert (entry.actor, entry.actor_kind, entry.action, entry.note) == (
        "alice", "console_user", "error.ignore", "known test data",
    )  # fmt: skip
    assert entry.records == tuple(refs)


def _resolve_then_fail(store: Store) -> None:
    with store.transaction() as connection:
        record_action(
            connection, ALICE, AuditAction.ERROR_RESOLVE, "fixed", [RecordRef(error_id=7)]
        )
        raise RuntimeError("the action failed after the audit row was written")


def test_the_audit_row_rolls_back_with_its_action(store: Store) -> None:
    with pytest.raises(RuntimeError):
        _resolve_then_fail(store)

    with store.engine.connect() as connection:
        assert list_audit(connection) == []


def test_entries_are_found_by_any_id_of_a_record_they_touched(store: Store) -> None:
    bob = Actor("bob", ActorKind.CLI_OS_USER)
    with store.transaction() as connection:
        record_action(connection, ALICE, AuditAction.ERROR_RETRY, None, [RecordRef(error_id=1)])
        record_action(
            connection, bob, AuditAction.CONFLICT_RESOLVE, "took source",
            [RecordRef(canonical_id="c9", source_id="006X", conflict_id=4)],
        )  # fmt: skip

    with store.engine.connect() as connection:
        by_canonical = list_audit(connection, AuditFilter(canonical_ids=("c9",)))
        by_source = list_audit(connection, AuditFilter(source_ids=("006X",)))
        by_error = list_audit(connection, AuditFilter(error_ids=(1,)))
        by_actor = list_audit(connection, AuditFilter(actor="bob"))
        nothing = list_audit(connection, AuditFilter(canonical_ids=("nope",)))
    assert [e.actor for e in by_canonical] == [e.actor for e in by_source] == ["bob"]
    assert [e.action for e in by_error] == ["error.retry"]
    assert [e.note for e in by_actor] == ["took source"]
    assert nothing == []


def test_hostile_notes_and_actors_are_stored_as_given_nul_replaced(store: Store) -> None:
    hostile = "<script>alert(1)</script>\x00\x1b[31m" + "é" * 10_000
    with store.transaction() as connection:
        record_action(connection, Actor("x\"'<>", ActorKind.API_TOKEN), "error.ignore", hostile, [])

    with store.engine.connect() as connection:
        (entry,) = list_audit(connection)
    # PostgreSQL refuses NUL in text, so it becomes U+FFFD on both backends; the rest is kept.
    assert entry.note == hostile.replace("\x00", "\ufffd")
    assert entry.actor == "x\"'<>"
