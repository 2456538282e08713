"""The findings page and the revenue dashboard: filters, journey links, acknowledgement with a
note (support only, audited), figures as `revbridge metrics` computes them, values as text."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from markupsafe import escape

from config.assurance import AssuranceSettings, RateSettings
from sync.console.context import ConsoleContext
from sync.store import Store
from sync.store.audit import list_audit
from sync.store.findings import Finding, FindingKind, Severity, list_findings, record_findings
from tests.console.conftest import SECRET_VALUES, ConsoleClient
from tests.integration.test_metrics_cli import HOSTILE_NAME, seed_metrics_store

HOSTILE_VALUE = '<script>window.__xss="finding"</script>'
HOSTILE_NOTE = '<img src=x onerror="window.__xss=1"> checked with billing'


@pytest.fixture
def console_context(console_context: ConsoleContext) -> ConsoleContext:
    """The console on Nov 30, 2026, reporting in EUR."""
    console_context.settings.assurance = AssuranceSettings(
        reporting_currency="EUR",
        rates=[RateSettings(currency="USD", rate="0.9", effective_from="2026-01-01")],
    )
    return replace(console_context, clock=lambda: datetime(2026, 11, 30, 12, tzinfo=UTC))


def seed_hostile_findings(store: Store, actual_value: str) -> None:
    """The metrics seed and an amount mismatch on inv-1 whose billing value is ``actual_value``."""
    seed_metrics_store(store)
    mismatch = Finding(FindingKind.AMOUNT_MISMATCH, Severity.ERROR, "quote-to-cash", "invoice",
                       "billing", "inv-1", {"billing": "in_1"}, field="total",
                       expected_value="1800.00", actual_value=actual_value, currency="USD",
                       amount_at_risk_minor=5_000)  # fmt: skip
    with store.transaction() as connection:
        record_findings(connection, [mismatch], scope=[])


@pytest.fixture
def seeded(store: Store) -> dict[str, int]:
    """The metrics seed (an unbilled order and a drift finding) and a hostile mismatch."""
    seed_hostile_findings(store, HOSTILE_VALUE)
    with store.engine.connect() as connection:
        return {f.finding.canonical_id or "": f.id for f in list_findings(connection)}


def _row_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-finding-id="(\d+)"', page)]


def test_the_findings_page_lists_open_findings_linked_to_their_journey(
    seeded: dict[str, int], viewer_client: ConsoleClient
) -> None:
    page = viewer_client.get("/findings")
    assert page.status_code == 200
    assert sorted(_row_ids(page.text)) == sorted(seeded.values())
    assert 'href="/journey?id=inv-1"' in page.text
    assert 'href="/journey?id=ord-9"' in page.text
    assert "50.00 USD" in page.text  # the mismatch's 5,000 cents
    # A hostile value is escaped text, and a viewer gets no acknowledge form.
    assert HOSTILE_VALUE not in page.text
    assert str(escape(HOSTILE_VALUE)) in page.text
    assert "/acknowledge" not in page.text


def test_filters_narrow_the_list_and_refuse_an_unknown_kind(
    seeded: dict[str, int], viewer_client: ConsoleClient
) -> None:
    by_kind = viewer_client.get("/findings", params={"kind": "unbilled"})
    assert _row_ids(by_kind.text) == [seeded["ord-9"]]
    by_entity = viewer_client.get("/findings", params={"entity": "invoice", "kind": ""})
    assert _row_ids(by_entity.text) == [seeded["inv-1"]]
    nothing = viewer_client.get("/findings", params={"flow": "other-flow"})
    assert _row_ids(nothing.text) == []
    assert "No finding matches" in nothing.text
    assert viewer_client.get("/findings", params={"kind": "<b>"}).status_code == 422
    assert viewer_client.get("/findings", params={"status": "gone"}).status_code == 422


def test_support_acknowledges_a_finding_with_a_note_which_is_audited_and_shown_as_text(
    seeded: dict[str, int], store: Store, support_client: ConsoleClient
) -> None:
    finding_id = seeded["inv-1"]
    answer = support_client.post(f"/findings/{finding_id}/acknowledge", data={"note": HOSTILE_NOTE})
    assert answer.status_code == 200
    assert f"Finding {finding_id} is acknowledged by support-user" in answer.text
    with store.engine.connect() as connection:
        (stored,) = [f for f in list_findings(connection) if f.id == finding_id]
        audit = list_audit(connection)
    assert (stored.acknowledged_by, stored.note) == ("support-user", HOSTILE_NOTE)
    assert stored.resolved_at is None  # acknowledged is still open until fixed
    assert [(entry.actor, entry.note) for entry in audit] == [("support-user", HOSTILE_NOTE)]
    page = support_client.get("/findings").text
    assert HOSTILE_NOTE not in page
    assert str(escape(HOSTILE_NOTE)) in page


@pytest.mark.parametrize(
    ("finding", "note", "status", "line"),
    [
        ("inv-1", "   ", 400, "the note is empty"),
        ("inv-1", "x" * 2001, 400, "the note has 2001 characters"),
        ("missing", "why", 404, "no finding 999"),
    ],
)
def test_an_acknowledgement_that_cannot_be_done_says_why_and_changes_nothing(
    seeded: dict[str, int],
    store: Store,
    support_client: ConsoleClient,
    finding: str,
    note: str,
    status: int,
    line: str,
) -> None:
    finding_id = seeded.get(finding, 999)
    answer = support_client.post(f"/findings/{finding_id}/acknowledge", data={"note": note})
    assert answer.status_code == status
    assert f"Nothing was done: {line}" in answer.text
    with store.engine.connect() as connection:
        assert all(f.acknowledged_by is None for f in list_findings(connection))


def test_a_viewer_may_not_acknowledge(
    seeded: dict[str, int], store: Store, viewer_client: ConsoleClient
) -> None:
    refused = viewer_client.post(f"/findings/{seeded['inv-1']}/acknowledge", data={"note": "x"})
    assert refused.status_code == 403
    with store.engine.connect() as connection:
        assert all(f.acknowledged_by is None for f in list_findings(connection))


def _chart(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="revenue-chart-data">(.*?)</script>',
                      page, re.S)  # fmt: skip
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_the_revenue_dashboard_shows_this_months_figures_and_twelve_months_of_charts(
    seeded: dict[str, int], viewer_client: ConsoleClient
) -> None:
    page = viewer_client.get("/revenue")
    assert page.status_code == 200
    # The seed: ARR 7,200 USD, in EUR x 0.9 = 6,480; leakage 250 USD (the unbilled order)
    # plus the 50 USD mismatch = 300 USD, 270 EUR.
    assert "EUR (reporting)" in page.text
    assert ">7200.00<" in page.text
    assert ">6480.00<" in page.text
    assert ">300.00<" in page.text
    assert ">270.00<" in page.text
    chart = _chart(page.text)
    assert chart["labels"] == ["2025-12", *(f"2026-{m:02d}" for m in range(1, 12))]
    # December 2025 has no USD rate (the table starts in January): a gap, named, never a 0.
    assert chart["arr"] == [None] + [0.0] * 10 + [6480.0]
    assert "no rate for USD into EUR on 2025-12-31" in page.text
    assert chart["currency"] == "EUR"
    # The hostile customer name is text in the backlog table.
    assert HOSTILE_NAME not in page.text
    assert str(escape(HOSTILE_NAME)) in page.text


def test_the_revenue_dashboard_names_a_missing_rate_in_one_line(
    seeded: dict[str, int], console_context: ConsoleContext, viewer_client: ConsoleClient
) -> None:
    console_context.settings.assurance = AssuranceSettings(reporting_currency="GBP")
    page = viewer_client.get("/revenue")
    assert page.status_code == 200
    assert "no rate for USD into GBP on 2025-12-31" in page.text
    assert "no rate for USD into GBP on 2026-11-30" in page.text
    assert "(reporting)" not in page.text  # each currency's own figures are still shown
    assert ">7200.00<" in page.text
    assert _chart(page.text)["arr"] == [None] * 12


def test_neither_page_shows_a_configured_secret(
    seeded: dict[str, int], support_client: ConsoleClient
) -> None:
    for path in ("/findings", "/findings?status=all", "/revenue"):
        page = support_client.get(path)
        assert page.status_code == 200
        assert not [secret for secret in SECRET_VALUES if secret in page.text]
