"""The findings gauges, read from the store on each scrape, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest

from sync.assurance.gauges import FindingsCollector
from sync.store import Store
from sync.store.findings import Finding, FindingKind, Severity, record_findings

T0 = datetime(2026, 12, 1, tzinfo=UTC)
SCOPE = [("quote-to-cash", "order", "billing")]


def _finding(kind: FindingKind, order: str, currency: str, minor: int) -> Finding:
    return Finding(
        kind=kind,
        severity=Severity.ERROR,
        flow="quote-to-cash",
        entity="order",
        system="billing",
        canonical_id=order,
        currency=currency,
        amount_at_risk_minor=minor,
    )


def _scrape(store: Store) -> str:
    registry = CollectorRegistry()
    registry.register(FindingsCollector(store))
    return generate_latest(registry).decode()


def test_open_findings_by_kind_and_amount_at_risk_by_currency(store: Store) -> None:
    seen = [
        _finding(FindingKind.UNBILLED, "o1", "USD", 12_345),
        _finding(FindingKind.UNBILLED, "o2", "USD", 55),
        _finding(FindingKind.AMOUNT_MISMATCH, "o3", "JPY", 700),
    ]
    with store.transaction() as connection:
        record_findings(connection, seen, SCOPE, T0)
    text = _scrape(store)
    assert 'revbridge_open_findings{kind="unbilled"} 2.0' in text
    assert 'revbridge_open_findings{kind="amount_mismatch"} 1.0' in text
    assert 'revbridge_open_findings{kind="drift"} 0.0' in text
    assert 'revbridge_amount_at_risk{currency="USD"} 124.0' in text
    assert 'revbridge_amount_at_risk{currency="JPY"} 700.0' in text


def test_resolved_findings_leave_the_gauges(store: Store) -> None:
    with store.transaction() as connection:
        record_findings(connection, [_finding(FindingKind.UNBILLED, "o1", "EUR", 100)], SCOPE, T0)
        record_findings(connection, [], SCOPE, T0 + timedelta(hours=1))
    text = _scrape(store)
    assert 'revbridge_open_findings{kind="unbilled"} 0.0' in text
    assert 'currency="EUR"' not in text


def test_a_store_that_cannot_be_read_yields_no_gauges_and_no_error() -> None:
    # Nothing listens on port 1: the connection is refused at scrape time.
    unreachable = Store("postgresql://revbridge@127.0.0.1:1/none", migrate=False)
    try:
        assert "revbridge_open_findings" not in _scrape(unreachable)
    finally:
        unreachable.close()
