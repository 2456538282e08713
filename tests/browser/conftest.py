"""Browser tests: Debian's Chromium driven by Playwright, against a live console on loopback.

Each test module gets one browser, one seeded store and one uvicorn server (module scope), so
the suite stays well under two minutes. Locally a missing /usr/bin/chromium skips the tests;
under ``CI=true`` it fails them, so CI can never go green without a browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from sync.cli.sandboxes import Sandboxes
from sync.console.app import create_console_app
from sync.console.context import ConsoleContext
from sync.console.passwords import hash_password
from sync.service.http_server import HttpServer
from sync.store.users import Role, add_user
from tests.browser.console_seed import SIZE, SeededConsole, seed_console

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
PASSWORD = "correct horse battery staple"
USERS: dict[str, Role] = {"vera": "viewer", "sam": "support", "ada": "admin"}
# How long a page may take to show what a test waits for (a retry runs a real sync).
WAIT_MS = 15_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededConsole]:
    """A store filled by real syncs against the sandboxes, with one user per role."""
    folder = tmp_path_factory.mktemp("console")
    with Sandboxes(SIZE) as sandboxes:
        console = seed_console(sandboxes, folder, f"sqlite:///{folder / 'revbridge.db'}")
        now = datetime.now(UTC)
        for name, role in USERS.items():
            add_user(console.store, name, role, hash_password(PASSWORD), now)
        yield console
        console.store.close()


@pytest.fixture(scope="module")
def console_url(seeded: SeededConsole) -> Iterator[str]:
    """The live console's base URL."""
    app = create_console_app(ConsoleContext(store=seeded.store, settings=seeded.settings))
    server = HttpServer(app, "127.0.0.1", 0).start()  # the server `revbridge console` runs
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def sign_in(page: Page, base_url: str, name: str) -> None:
    """Sign in through the login form, as a person does."""
    page.goto(f"{base_url}/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def screenshot(page: Page, name: str) -> None:
    """Save the page as docs/console/NAME.png for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
