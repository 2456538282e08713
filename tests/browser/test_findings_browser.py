"""The findings page and the revenue dashboard in Chromium: hostile values stay text, a finding
is acknowledged through its form, its record's journey opens, and the charts are drawn."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from config.assurance import AssuranceSettings, RateSettings
from sync.console.app import create_console_app
from sync.console.context import ConsoleContext
from sync.console.passwords import hash_password
from sync.service.http_server import HttpServer
from sync.store import Store
from sync.store.findings import list_findings
from sync.store.users import add_user
from tests.browser.conftest import PASSWORD
from tests.browser.test_xss_browser import _CLEAN, _INJECTED, dialogs, page
from tests.console.conftest import console_settings
from tests.console.test_findings_page import seed_hostile_findings

HOSTILE_VALUE = "<img src=x onerror=\"window.__xss='finding'\">"
HOSTILE_NOTE = "<svg onload=\"window.__xss='note'\"> [link=javascript:alert(1)]x[/link]"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
__all__ = ["dialogs", "page"]  # the signed-in tab (as sam) and its dialogs, as the XSS tests


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The metrics seed (hostile customer name), and a mismatch with a hostile actual value."""
    folder: Path = tmp_path_factory.mktemp("findings")
    opened = Store(f"sqlite:///{folder / 'revbridge.db'}")
    seed_hostile_findings(opened, HOSTILE_VALUE)
    add_user(opened, "sam", "support", hash_password(PASSWORD), NOW)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def console_url(store: Store) -> Iterator[str]:
    settings = console_settings(store.url)
    settings.assurance = AssuranceSettings(
        reporting_currency="EUR",
        rates=[RateSettings(currency="USD", rate="0.9", effective_from="2025-01-01")],
    )
    context = ConsoleContext(store=store, settings=settings, clock=lambda: NOW)
    server = HttpServer(create_console_app(context), "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_findings_show_hostile_values_as_text_and_link_to_the_journey(
    page: Page, console_url: str, dialogs: list[str]
) -> None:
    page.goto(f"{console_url}/findings")
    rows = page.locator("#finding-table tbody tr[data-finding-id]")
    expect(rows).to_have_count(3)
    assert HOSTILE_VALUE in page.inner_text("#finding-table")
    assert page.evaluate(_INJECTED) == _CLEAN
    page.locator("a.journey", has_text="inv-1").click()
    page.wait_for_url(f"{console_url}/journey?id=inv-1")
    assert dialogs == []


def test_a_finding_is_acknowledged_with_a_hostile_note_shown_as_text(
    page: Page, console_url: str, store: Store, dialogs: list[str]
) -> None:
    page.goto(f"{console_url}/findings?kind=amount_mismatch")
    row = page.locator("#finding-table tbody tr[data-finding-id]")
    expect(row).to_have_count(1)
    row.locator("input[name=note]").fill(HOSTILE_NOTE)
    row.locator("button", has_text="Acknowledge").click()
    expect(page.locator("#outcome")).to_contain_text("is acknowledged by sam")
    page.goto(f"{console_url}/findings?kind=amount_mismatch")
    assert HOSTILE_NOTE in page.inner_text("#finding-table")
    assert page.evaluate(_INJECTED) == _CLEAN
    with store.engine.connect() as connection:
        (acknowledged,) = [f for f in list_findings(connection) if f.acknowledged_by]
    assert (acknowledged.acknowledged_by, acknowledged.note) == ("sam", HOSTILE_NOTE)
    assert dialogs == []


def test_the_revenue_dashboard_draws_its_charts_and_shows_names_as_text(
    page: Page, console_url: str, dialogs: list[str]
) -> None:
    page.goto(f"{console_url}/revenue")
    for chart in ("chart-arr", "chart-cash", "chart-aging"):
        expect(page.locator(f"#{chart}")).to_have_attribute("data-drawn", "true")
    metrics = page.inner_text("#revenue-metrics")
    assert "EUR (reporting)" in metrics
    assert "6480.00" in metrics  # ARR 7,200 USD x 0.9
    backlog = page.inner_text("#revenue-backlog")
    assert "[link=https://evil.test]Acme[/link]" in backlog
    assert "<b>red</b>" in backlog
    assert page.evaluate(_INJECTED) == _CLEAN
    assert dialogs == []
