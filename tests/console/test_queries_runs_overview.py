"""Runs (list, detail) and the overview's figures, on hand-computed data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from sync.store import Store
from sync.store.conflict_log import ConflictEntry, ConflictStatus, log_conflicts
from sync.store.overview import overview, queue_by_day
from sync.store.run_detail import list_runs, run_detail
from sync.store.runs import finish_run, start_run
from sync.store.schema import RunStatus, runs
from tests.console.error_rows import error_values, insert_errors

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
STATS: dict[str, Any] = {
    "api_calls": {"salesforce": 12, "billing": 4, "erp": 3, "bogus": "many"},
    "entities": {
        "order": {
            "canonical": {"created": 5, "updated": 1, "rejected": 1},
            "billing": {"created": 4, "updated": 1, "rejected": 0},
            "erp": {"created": 3, "updated": 0, "rejected": 2},
        },
        "broken": "not a dict",
    },
}


def _run(store: Store, flow: str, stats: dict[str, Any], status: RunStatus) -> int:
    with store.transaction() as connection:
        run_id = start_run(connection, flow)
        finish_run(connection, run_id, status, stats)
    return run_id


def test_run_detail_has_counts_api_calls_duration_and_its_errors(store: Store) -> None:
    run_id = _run(store, "quote-to-cash", STATS, RunStatus.PARTIAL)
    other = _run(store, "quote-to-cash", {}, RunStatus.SUCCEEDED)
    with store.transaction() as connection:
        insert_errors(connection, [error_values(n, run_id=run_id) for n in range(3)]
                      + [error_values(9, run_id=other)])  # fmt: skip

    with store.engine.connect() as connection:
        detail = run_detail(connection, run_id)
        missing = run_detail(connection, 999_999)
    assert detail is not None
    assert missing is None
    assert detail.api_calls == {"salesforce": 12, "billing": 4, "erp": 3}
    assert detail.counts["order"]["erp"] == {"created": 3, "updated": 0, "rejected": 2}
    assert "broken" not in detail.counts
    assert detail.duration_seconds is not None
    assert detail.duration_seconds >= 0
    assert sorted(row.source_id[-1] for row in detail.errors.rows) == ["0", "1", "2"]


def test_runs_are_listed_newest_first_a_page_at_a_time(store: Store) -> None:
    ids = [_run(store, "quote-to-cash" if n % 2 else "receivables", {}, RunStatus.SUCCEEDED)
           for n in range(7)]  # fmt: skip

    with store.engine.connect() as connection:
        first = list_runs(connection, size=3)
        assert first.next_before_id is not None
        second = list_runs(connection, size=3, before_id=first.next_before_id)
        only = list_runs(connection, flow="receivables", size=50)
    assert [r.id for r in first.runs + second.runs] == sorted(ids, reverse=True)[:6]
    assert {r.flow for r in only.runs} == {"receivables"}
    assert only.next_before_id is None


def test_overview_groups_open_errors_and_counts_waiting_conflicts(store: Store) -> None:
    run_id = _run(store, "quote-to-cash", STATS, RunStatus.PARTIAL)
    rows = [
        error_values(0, entity="order", target_system="erp", error_class="RecordRejected"),
        error_values(1, entity="order", target_system="billing", error_class="RecordRejected"),
        error_values(2, entity="account", target_system="", error_class="ValidationError"),
        error_values(3, entity="account", status="ignored"),
    ]
    with store.transaction() as connection:
        insert_errors(connection, rows)
        entry = ConflictEntry(
            entity="order", canonical_id="o1", target_system="billing", field="amount",
            base_value=1, source_value=2, target_value=3, policy="manual", decision="held",
            status=ConflictStatus.OPEN,
        )  # fmt: skip
        log_conflicts(connection, [entry, entry], run_id)

    with store.engine.connect() as connection:
        seen = overview(connection, ["quote-to-cash", "never-ran"], NOW)
    assert seen.open_by_entity == {"order": 2, "account": 1}
    assert seen.open_by_system == {"erp": 1, "billing": 1, "salesforce": 1}
    assert seen.open_by_class == {"RecordRejected": 2, "ValidationError": 1}
    assert seen.conflicts_waiting == 2
    assert [(v.written, v.rejected) for v in seen.recent_runs] == [(8, 3)]
    assert [f.flow for f in seen.flows] == ["quote-to-cash", "never-ran"]
    assert seen.flows[1].last_run is None
    assert len(seen.queue_by_day) == 30


def test_queue_size_per_day_counts_entries_open_at_each_days_end(store: Store) -> None:
    day = lambda n: datetime(2026, 12, n, 10, 0, tzinfo=UTC)  # noqa: E731
    rows = [
        error_values(0, created_at=day(1), updated_at=day(1)),  # open since the 1st
        error_values(1, created_at=day(2), updated_at=day(4), status="resolved"),  # 2nd-3rd
        error_values(2, created_at=day(3), updated_at=day(3), status="ignored"),  # never at 24h
        error_values(3, created_at=day(5), updated_at=day(6), status="retrying"),  # from 5th
        error_values(
            4,
            created_at=day(1) - timedelta(days=60),
            updated_at=day(1) - timedelta(days=59),
            status="resolved",
        ),
    ]
    with store.transaction() as connection:
        insert_errors(connection, rows)

    with store.engine.connect() as connection:
        trend = queue_by_day(connection, date(2026, 12, 6), days=7)
    assert [(d.day.day, d.open) for d in trend] == [
        (30, 0), (1, 1), (2, 2), (3, 2), (4, 1), (5, 2), (6, 2),
    ]  # fmt: skip


@pytest.mark.parametrize("stats", [{}, {"entities": []}, {"entities": {"x": {"y": None}}}])
def test_runs_with_odd_stored_stats_still_show(store: Store, stats: dict[str, Any]) -> None:
    run_id = _run(store, "quote-to-cash", stats, RunStatus.FAILED)
    with store.engine.connect() as connection:
        detail = run_detail(connection, run_id)
        seen = overview(connection, [], NOW)
        assert connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one() == 1
    assert detail is not None
    assert [(v.written, v.rejected) for v in seen.recent_runs] == [(0, 0)]
