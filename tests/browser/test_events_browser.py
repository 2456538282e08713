"""The events page in Chromium: a dead letter's hostile id, record and reason stay text, no sink
secret reaches the page, and support staff replay one through its form and then the rest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from config.events import EventsSettings
from sync.console.app import create_console_app
from sync.console.context import ConsoleContext
from sync.console.passwords import hash_password
from sync.service.http_server import HttpServer
from sync.store import Store
from sync.store.audit import list_audit
from sync.store.outbox import outbox_events
from sync.store.outbox_dead_letters import NewDeadLetter, add_dead_letters, dead_letters
from sync.store.users import add_user
from tests.browser.conftest import PASSWORD
from tests.browser.test_xss_browser import _CLEAN, _INJECTED, dialogs, page
from tests.console.conftest import console_settings
from tests.integration.events_webhook_harness import webhook_sink, write_events

HOSTILE_ID = "<svg onload=\"window.__xss='id'\">\x1b"
HOSTILE_SUBJECT = "<img src=x onerror=\"window.__xss='subject'\">"
HOSTILE_REASON = "HTTP 500 <script>window.__xss='reason'</script> [link=javascript:alert(1)]x"
HOOK_URL = "http://127.0.0.1:9/hooks?token=browser-hook-token-Kd02"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
__all__ = ["dialogs", "page"]  # the signed-in tab (as sam) and its dialogs, as the XSS tests


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Three order events dead-lettered by the hooks sink, one with hostile id and subject."""
    folder: Path = tmp_path_factory.mktemp("events")
    opened = Store(f"sqlite:///{folder / 'revbridge.db'}")
    ids = write_events(opened, [{"id": HOSTILE_SUBJECT}, {"id": "ord-2"}, {"id": "ord-3"}])
    with opened.transaction() as connection:
        update = sa.update(outbox_events).where(outbox_events.c.event_id == ids[0])
        connection.execute(update.values(event_id=HOSTILE_ID))
        letters = [
            NewDeadLetter(n, event_id, 4, f"{HOSTILE_REASON} {HOOK_URL}")
            for n, event_id in enumerate([HOSTILE_ID, *ids[1:]], start=1)
        ]
        add_dead_letters(connection, "hooks", letters)
    add_user(opened, "sam", "support", hash_password(PASSWORD), NOW)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def console_url(store: Store) -> Iterator[str]:
    settings = console_settings(store.url)
    settings.events = EventsSettings.model_validate({"sinks": [webhook_sink(HOOK_URL)]})
    context = ConsoleContext(store=store, settings=settings, clock=lambda: NOW)
    server = HttpServer(create_console_app(context), "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_dead_letters_show_hostile_values_as_text_and_no_secret(
    page: Page, console_url: str, dialogs: list[str]
) -> None:
    page.goto(f"{console_url}/events")
    rows = page.locator("#dead-letter-table tbody tr[data-sequence]")
    expect(rows).to_have_count(3)
    shown = page.inner_text("#dead-letter-table")
    assert "<svg onload=\"window.__xss='id'\">\\x1b" in shown
    assert HOSTILE_SUBJECT in shown
    assert HOSTILE_REASON in shown
    assert "[secret]" in shown
    assert "browser-hook-token" not in page.content()
    expect(page.locator("#sink-table tr[data-sink=hooks] .dead-lettered")).to_have_text("3")
    assert page.evaluate(_INJECTED) == _CLEAN
    assert dialogs == []


def test_support_replays_one_then_the_rest_through_the_forms(
    page: Page, console_url: str, store: Store, dialogs: list[str]
) -> None:
    page.goto(f"{console_url}/events")
    hostile = page.locator("#dead-letter-table tbody tr[data-sequence='1']")
    hostile.locator("input[name=note]").fill("receiver fixed <b>")
    hostile.locator("button", has_text="Replay").click()
    expect(page.locator("#outcome")).to_contain_text("sam requeued event")
    assert page.evaluate(_INJECTED) == _CLEAN
    with store.engine.connect() as connection:
        assert [letter.sequence for letter in dead_letters(connection, "hooks")] == [2, 3]
    page.goto(f"{console_url}/events")
    expect(page.locator("#dead-letter-table tbody tr[data-sequence]")).to_have_count(2)
    sink = page.locator("#sink-table tr[data-sink=hooks]")
    sink.locator("input[name=note]").fill("the rest too")
    sink.locator("button", has_text="Replay all 2").click()
    expect(page.locator("#outcome")).to_contain_text("requeued 2 dead-lettered event(s)")
    with store.engine.connect() as connection:
        assert dead_letters(connection, "hooks") == []
        notes = [(entry.actor, entry.note) for entry in list_audit(connection)]
    assert notes == [("sam", "the rest too"), ("sam", "receiver fixed <b>")]
    assert dialogs == []
