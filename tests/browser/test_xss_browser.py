"""Hostile values render as text on every page, checked in the browser.

The seeded store holds an account whose name is a script element, an attribute break-out and
Rich-style ``[link=...]`` markup, with a ``javascript:`` website; an order whose status is an
``<img onerror>``; and a held conflict whose billing side is an ``<svg onload>``. Each page is
checked in Chromium: no script ran (``window.__xss`` stays unset, no dialog opened), no
element or event-handler attribute was injected, no link leads to ``javascript:`` or to the
markup's URL, and the hostile text is there to read. The console's Content-Security-Policy
would block an inline script anyway, so the DOM checks are what prove the escaping.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from sync.store.error_queue import list_errors
from tests.browser.conftest import WAIT_MS, sign_in
from tests.browser.console_seed import (
    HOSTILE_BILLING_NAME,
    HOSTILE_NAME,
    HOSTILE_STATUS,
    HOSTILE_WEBSITE,
    SeededConsole,
)

# What the page itself may hold: our vendored and own scripts, and JSON data elements.
_INJECTED = """() => {
  const handlers = ["onmouseover", "onerror", "onload", "onclick", "onfocus"];
  const withHandler = [...document.querySelectorAll("*")].filter(
    (element) => handlers.some((name) => element.hasAttribute(name)));
  const scripts = [...document.querySelectorAll("script")].filter((script) =>
    !(script.getAttribute("src") || "").startsWith("/static/")
    && script.getAttribute("type") !== "application/json");
  const links = [...document.querySelectorAll("a[href]")].filter((link) =>
    /^\\s*javascript:/i.test(link.getAttribute("href")) || link.href.includes("evil.test"));
  return {
    ran: window.__xss === undefined ? null : String(window.__xss),
    handlers: withHandler.map((element) => element.outerHTML.slice(0, 120)),
    scripts: scripts.map((script) => script.outerHTML.slice(0, 120)),
    links: links.map((link) => link.outerHTML.slice(0, 120)),
    elements: document.querySelectorAll("main img, main svg, main iframe, main object").length,
  };
}"""
_CLEAN: dict[str, object] = {"ran": None, "handlers": [], "scripts": [], "links": [], "elements": 0}


@pytest.fixture(scope="module")
def dialogs() -> list[str]:
    """Messages of any alert, confirm or prompt a page opened."""
    return []


@pytest.fixture(scope="module")
def page(browser: Browser, console_url: str, dialogs: list[str]) -> Iterator[Page]:
    """A tab signed in as support staff, recording dialogs."""
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", refuse)
    sign_in(tab, console_url, "sam")
    yield tab
    context.close()


def _hostile_entry(seeded: SeededConsole) -> int:
    with seeded.store.engine.connect() as connection:
        rows = list_errors(connection, limit=None)
    return next(row.id for row in rows if row.source_id == seeded.hostile_order_id)


def _pages(seeded: SeededConsole) -> dict[str, str]:
    """Every page, by a name, with the hostile record in it where the page can hold it."""
    hostile = seeded.canonical_id("salesforce", seeded.hostile_account_id)
    return {
        "overview": "/",
        "queue": "/errors",
        "queue filtered by markup": f"/errors?q={quote(HOSTILE_STATUS)}",
        "entry": f"/errors/{_hostile_entry(seeded)}",
        "journey of the account": f"/journey?id={seeded.hostile_account_id}",
        "journey of the order": f"/journey?id={seeded.hostile_order_id}",
        "journey searched by markup": f"/journey?id={quote(HOSTILE_NAME[:200])}",
        "conflicts": "/conflicts",
        "conflict": f"/conflicts/billing/{hostile}",
        "runs": "/runs",
        "first run": "/runs/1",
        "second run": "/runs/2",
    }


# The hostile text each page must show, as text, for the test to mean anything. Reasons quote
# values as Python does and payloads are JSON, so quotes inside may come back escaped.
_IMG = "<img src=x onerror="
_SHOWN = {
    "queue": _IMG,
    "entry": _IMG,
    "journey of the account": HOSTILE_WEBSITE,
    "journey of the order": _IMG,
    "conflict": HOSTILE_BILLING_NAME.strip(),
}


@pytest.mark.parametrize(
    "name",
    [
        "overview",
        "queue",
        "queue filtered by markup",
        "entry",
        "journey of the account",
        "journey of the order",
        "journey searched by markup",
        "conflicts",
        "conflict",
        "runs",
        "first run",
        "second run",
    ],
)
def test_hostile_values_render_as_text(
    page: Page, console_url: str, seeded: SeededConsole, dialogs: list[str], name: str
) -> None:
    response = page.goto(f"{console_url}{_pages(seeded)[name]}")

    assert response is not None
    assert response.status == 200
    expect(page.locator("main h1")).to_be_visible()
    assert page.evaluate(_INJECTED) == _CLEAN
    assert dialogs == []
    if name in _SHOWN:
        assert _SHOWN[name] in page.inner_text("main")


def test_the_account_name_shows_every_trick_as_text(
    page: Page, console_url: str, seeded: SeededConsole
) -> None:
    page.goto(f"{console_url}/journey?id={seeded.hostile_account_id}")
    shown = page.inner_text("main")
    for trick in ("<script>window.__xss", "onmouseover=", "[link=javascript:", "[/link]"):
        assert trick in shown
    assert page.evaluate(_INJECTED) == _CLEAN


def test_a_queue_filtered_through_htmx_by_markup_stays_text(
    page: Page, console_url: str, dialogs: list[str]
) -> None:
    page.goto(f"{console_url}/errors")
    page.fill("#filter-text", _IMG)

    expect(page.locator("#error-table tbody tr[data-entry-id]")).to_have_count(1)
    assert page.input_value("#filter-text") == _IMG
    assert page.evaluate(_INJECTED) == _CLEAN
    assert dialogs == []
