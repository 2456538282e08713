"""The state store on SQLite and PostgreSQL: migrations, records, xref, cursors, error queue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.base import Cursor
from sync.store import Store
from sync.store.cursors import load_cursor, save_cursor
from sync.store.error_queue import (
    QueuedError,
    count_active,
    list_errors,
    queue_error,
    resolve_landed,
)
from sync.store.records import (
    StoredRecord,
    XrefEntry,
    canonical_ids_for,
    content_hashes,
    iter_stored,
    load_payload,
    save_records,
    save_xrefs,
    xref_entries,
)
from sync.store.runs import finish_run, recent_runs, start_run
from sync.store.schema import ErrorStage, ErrorStatus, RunStatus

MIGRATIONS = Path(__file__).resolve().parents[2] / "sync" / "store" / "migrations" / "versions"

MODIFIED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _record(canonical_id: str, content_hash: str, name: str = "Acme") -> StoredRecord:
    return StoredRecord(
        canonical_id=canonical_id,
        entity="account",
        payload={"id": canonical_id, "name": name},
        content_hash=content_hash,
        source_system="salesforce",
        source_object="Account",
        source_id=f"001{canonical_id}",
        source_modified_at=MODIFIED,
    )


def _error(source_id: str, target: str = "", message: str = "bad") -> QueuedError:
    return QueuedError(
        flow="quote-to-cash",
        entity="order",
        source_system="salesforce",
        source_object="Order",
        source_id=source_id,
        stage=ErrorStage.WRITE if target else ErrorStage.VALIDATE,
        error_class="RecordRejected" if target else "ValidationError",
        message=message,
        payload={"Id": source_id, "Quantity": -1},
        target_system=target,
    )


def _latest_migration() -> str:
    """The revision of the newest file in the migrations folder (they are numbered in order)."""
    return max(path.name[:4] for path in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))


def test_new_database_is_migrated_to_head_on_first_use(store: Store) -> None:
    assert store.current_revision() == store.head_revision() == _latest_migration()
    tables = set(sa.inspect(store.engine).get_table_names())
    expected = {"canonical_records", "xref", "cursors", "runs", "error_queue", "conflict_log"}
    assert expected <= tables


def test_upgrade_is_idempotent(store: Store, database_url: str) -> None:
    again = Store(database_url)
    again.upgrade()
    assert again.current_revision() == _latest_migration()


def test_saving_a_record_twice_replaces_it(store: Store) -> None:
    with store.transaction() as connection:
        run_id = start_run(connection, "quote-to-cash")
        save_records(connection, [_record("a1", "h1", "Acme")], run_id)
        save_records(connection, [_record("a1", "h2", "Acme Corp")], run_id)
    with store.engine.connect() as connection:
        assert content_hashes(connection, ["a1", "missing"]) == {"a1": "h2"}
        payload = load_payload(connection, "a1")
    assert payload == {"id": "a1", "name": "Acme Corp"}


def test_xref_resolves_both_ways_and_keeps_last_written_hash(store: Store) -> None:
    with store.transaction() as connection:
        run_id = start_run(connection, "quote-to-cash")
        save_xrefs(
            connection,
            [
                XrefEntry("salesforce", "a1", "account", "Account", "001A"),
                XrefEntry("billing", "a1", "account", "customers", "cus_1", "hash-1"),
            ],
            run_id,
        )
        save_xrefs(
            connection,
            [XrefEntry("billing", "a1", "account", "customers", "cus_1", "hash-2")],
            run_id,
        )
    with store.engine.connect() as connection:
        assert canonical_ids_for(connection, "salesforce", "account", ["001A", "001B"]) == {
            "001A": "a1"
        }
        billing = xref_entries(connection, "billing", ["a1"])["a1"]
    assert billing.external_id == "cus_1"
    assert billing.last_written_hash == "hash-2"


def test_one_external_id_maps_to_one_canonical_record(store: Store) -> None:
    with store.transaction() as connection:
        run_id = start_run(connection, "quote-to-cash")
        save_xrefs(
            connection, [XrefEntry("salesforce", "a1", "account", "Account", "001A")], run_id
        )
    with pytest.raises(sa.exc.IntegrityError), store.transaction() as connection:
        save_xrefs(
            connection, [XrefEntry("salesforce", "a2", "account", "Account", "001A")], run_id
        )


def test_cursor_round_trips_and_advances(store: Store) -> None:
    first = Cursor("2026-01-05T10:00:00.000+0000", "001A")
    second = Cursor("2026-01-05T10:00:01.000+0000", "001B")
    with store.engine.connect() as connection:
        assert load_cursor(connection, "quote-to-cash", "salesforce", "account") is None
    with store.transaction() as connection:
        save_cursor(connection, "quote-to-cash", "salesforce", "account", first, 1)
        save_cursor(connection, "quote-to-cash", "salesforce", "account", second, 1)
    with store.engine.connect() as connection:
        assert load_cursor(connection, "quote-to-cash", "salesforce", "account") == second


def test_cursor_is_not_saved_when_the_page_transaction_rolls_back(store: Store) -> None:
    def commit_then_crash() -> None:
        with store.transaction() as connection:
            save_cursor(connection, "f", "salesforce", "order", Cursor("t", "801A"), 1)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        commit_then_crash()
    with store.engine.connect() as connection:
        assert load_cursor(connection, "f", "salesforce", "order") is None


def test_repeated_failure_of_one_record_bumps_one_entry(store: Store) -> None:
    with store.transaction() as connection:
        queue_error(connection, _error("801A", message="first"), 1)
        queue_error(connection, _error("801A", message="second"), 2)
        queue_error(connection, _error("801A", target="billing"), 2)
    with store.engine.connect() as connection:
        rows = list_errors(connection, entity="order")
    by_target = {row.target_system: row for row in rows}
    assert set(by_target) == {"", "billing"}
    assert by_target[""].attempts == 2
    assert by_target[""].message == "second"
    assert by_target[""].payload == {"Id": "801A", "Quantity": -1}
    assert by_target["billing"].attempts == 1


def test_landed_record_resolves_its_open_entries(store: Store) -> None:
    with store.transaction() as connection:
        queue_error(connection, _error("801A"), 1)
        queue_error(connection, _error("801B"), 1)
        resolved = resolve_landed(connection, "order", "salesforce", ["801A"])
    with store.engine.connect() as connection:
        assert resolved == 1
        assert count_active(connection) == 1
        statuses = {row.source_id: row.status for row in list_errors(connection)}
    assert statuses == {"801A": ErrorStatus.RESOLVED, "801B": ErrorStatus.OPEN}


def test_error_list_filters_by_status_and_system(store: Store) -> None:
    with store.transaction() as connection:
        queue_error(connection, _error("801A", target="erp"), 1)
        queue_error(connection, _error("801B", target="billing"), 1)
        resolve_landed(connection, "order", "salesforce", ["801B"])
    with store.engine.connect() as connection:
        erp_rows = list_errors(connection, system="erp")
        open_rows = list_errors(connection, status=ErrorStatus.OPEN)
    assert [row.source_id for row in erp_rows] == ["801A"]
    assert [row.source_id for row in open_rows] == ["801A"]


def test_runs_are_recorded_with_status_and_stats(store: Store) -> None:
    with store.transaction() as connection:
        run_id = start_run(connection, "quote-to-cash")
    with store.transaction() as connection:
        finish_run(connection, run_id, RunStatus.PARTIAL, {"pages": 3}, "2 rejected")
    with store.engine.connect() as connection:
        (run,) = recent_runs(connection)
    assert run.id == run_id
    assert run.status is RunStatus.PARTIAL
    assert run.stats == {"pages": 3}
    assert run.finished_at is not None
    assert run.finished_at.tzinfo is not None


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = StoredRecord(
        **{**_record("a1", "h").__dict__, "source_modified_at": datetime(2026, 1, 5)}
    )
    with pytest.raises(sa.exc.StatementError), store.transaction() as connection:
        save_records(connection, [naive], 1)


def test_upgrading_from_the_first_release_keeps_its_rows(database_url: str) -> None:
    old = Store(database_url, migrate=False)
    old.upgrade("0001")
    with old.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO canonical_records (canonical_id, entity, payload, content_hash, "
                "source_system, source_object, source_id, source_modified_at, is_deleted, "
                "updated_at) VALUES ('a1', 'account', '{\"name\": \"Acme\"}', 'h1', "
                "'salesforce', 'Account', '001A', :at, false, :at)"
            ),
            {"at": MODIFIED},
        )
    old.close()

    upgraded = Store(database_url)

    assert upgraded.current_revision() == _latest_migration()
    with upgraded.engine.connect() as connection:
        (batch,) = list(iter_stored(connection, "account"))
    assert [(r.canonical_id, r.payload, r.source_payload) for r in batch] == [
        ("a1", {"name": "Acme"}, None)
    ]
    upgraded.close()


def test_stored_records_come_back_in_batches_with_their_source_payload(store: Store) -> None:
    records = [
        StoredRecord(**{**_record(f"a{n:02d}", "h").__dict__, "source_payload": {"Id": n}})
        for n in range(5)
    ]
    with store.transaction() as connection:
        save_records(connection, records, 1)
    with store.engine.connect() as connection:
        batches = list(iter_stored(connection, "account", batch_size=2))
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert [r.source_payload for batch in batches for r in batch] == [{"Id": n} for n in range(5)]
