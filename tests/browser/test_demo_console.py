"""`make demo` ends with how to open the console: a config for its store and a demo user whose
password is printed once, which signs in to the console in the browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from config.loader import load_settings
from sync.cli.demo import DEMO_USER, DemoResult, run_demo
from sync.cli.sandboxes import SandboxSize
from sync.console.app import create_console_app
from sync.console.context import ConsoleContext
from sync.console.passwords import password_matches
from sync.service.http_server import HttpServer
from sync.store import Store
from sync.store.users import find_user

SMALL = SandboxSize(accounts=4, orders=12, products=3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """One small demo run into a temporary folder."""
    return run_demo(tmp_path_factory.mktemp("demo") / "revbridge-demo.db", SMALL)


@pytest.fixture(scope="module")
def demo_store(demo: DemoResult) -> Iterator[Store]:
    """The demo's store, opened as `revbridge console -c` opens it."""
    assert demo.console is not None
    store = Store(load_settings(demo.console.config).database_url)
    yield store
    store.close()


def test_the_demo_prints_how_to_open_the_console_and_the_password_once(
    demo: DemoResult, demo_store: Store
) -> None:
    assert demo.console is not None
    lines = "\n".join(demo.console.lines())
    assert f"revbridge console -c {demo.console.config}" in lines
    assert lines.count(demo.console.password) == 1
    assert demo.console.config.stat().st_mode & 0o077 == 0  # sandbox credentials: owner only
    user = find_user(demo_store, DEMO_USER)
    assert user is not None
    assert user.role == "support"
    assert password_matches(user.password_hash, demo.console.password)
    assert demo.console.password not in (user.password_hash or "")


def test_the_demo_user_signs_in_to_the_console_on_the_demos_store(
    demo: DemoResult, demo_store: Store, browser: Browser
) -> None:
    assert demo.console is not None
    settings = load_settings(demo.console.config)
    app = create_console_app(ConsoleContext(store=demo_store, settings=settings))
    server = HttpServer(app, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{server.port}"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{url}/login")
        page.fill("#username", DEMO_USER)
        page.fill("#password", demo.console.password)
        page.click("button[type=submit]")
        expect(page.locator("#flows tr[data-flow='quote-to-cash']")).to_contain_text("run")
        page.goto(f"{url}/runs")
        expect(page.locator("#run-table tbody tr")).to_have_count(3)
    finally:
        context.close()
        server.stop()
