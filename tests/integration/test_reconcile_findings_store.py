"""The findings table on both databases: upsert by key, resolution by scope, acknowledgement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.store import Store
from sync.store.findings import (
    Finding,
    FindingKind,
    Severity,
    all_findings,
    open_findings,
    record_findings,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SCOPE = [("quote-to-cash", "order", "billing")]


def _drift(actual: object, canonical_id: str = "ord-1") -> Finding:
    return Finding(
        kind=FindingKind.DRIFT,
        severity=Severity.WARNING,
        flow="quote-to-cash",
        entity="order",
        system="billing",
        canonical_id=canonical_id,
        system_ids={"billing": "ord_1", "salesforce": "801x"},
        field="total",
        expected_value="100.00",
        actual_value=actual,
        currency="EUR",
        amount_at_risk_minor=2500,
    )


def test_a_finding_seen_again_keeps_its_first_seen_and_updates_last_seen_and_values(
    store: Store,
) -> None:
    with store.transaction() as connection:
        first = record_findings(connection, [_drift("125.00")], SCOPE, T0)
    later = T0 + timedelta(hours=1)
    with store.transaction() as connection:
        again = record_findings(connection, [_drift("130.00")], SCOPE, later)
        (stored,) = open_findings(connection)
    assert (first.new, again.new, again.seen_again) == (1, 0, 1)
    assert first.ids == again.ids == {_drift("x").key: stored.id}
    assert (stored.first_seen, stored.last_seen) == (T0, later)
    assert stored.finding.actual_value == "130.00"
    assert stored.finding.system_ids == {"billing": "ord_1", "salesforce": "801x"}
    assert stored.finding.amount_at_risk_minor == 2500


def test_a_finding_not_seen_by_a_later_reconcile_of_its_scope_resolves_itself(
    store: Store,
) -> None:
    with store.transaction() as connection:
        record_findings(connection, [_drift("1"), _drift("2", "ord-2")], SCOPE, T0)
    later = T0 + timedelta(hours=1)
    with store.transaction() as connection:
        outcome = record_findings(connection, [_drift("2", "ord-2")], SCOPE, later)
        remaining = open_findings(connection)
        every = list(all_findings(connection))
    assert outcome.resolved == 1
    assert [f.finding.canonical_id for f in remaining] == ["ord-2"]
    assert [f.resolved_at for f in every] == [later, None]


def test_a_reconcile_of_another_scope_resolves_nothing_outside_it(store: Store) -> None:
    with store.transaction() as connection:
        record_findings(connection, [_drift("1")], SCOPE, T0)
        outcome = record_findings(
            connection,
            [],
            [("quote-to-cash", "account", "billing"), ("quote-to-cash", "order", "erp")],
            T0 + timedelta(1),
        )
        assert outcome.resolved == 0
        assert len(open_findings(connection)) == 1


def test_hostile_values_and_huge_amounts_are_stored_as_given(store: Store) -> None:
    hostile = '=HYPERLINK("http://x")\x07[red]boom[/red] \u202e' + "x" * 10_000
    finding = Finding(
        kind=FindingKind.AMOUNT_MISMATCH,
        severity=Severity.ERROR,
        flow="quote-to-cash",
        entity="order",
        system="billing",
        canonical_id="ord-9",
        field="total",
        expected_value=hostile,
        actual_value={"nested": [1, None]},
        currency="JPY",
        amount_at_risk_minor=9_000_000_000_000_000,
    )
    with store.transaction() as connection:
        record_findings(connection, [finding], SCOPE, T0)
        (stored,) = open_findings(connection)
    assert stored.finding.expected_value == hostile
    assert stored.finding.actual_value == {"nested": [1, None]}
    assert stored.finding.amount_at_risk_minor == 9_000_000_000_000_000
