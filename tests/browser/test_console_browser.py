"""Support staff's morning in a real browser: sign in, read the overview, filter the queue,
retry 20 errors after the mapping was fixed, ignore one with a note, find a record's journey by
its NetSuite id, resolve a conflict field by field, read the runs, sign out.

The tests share one seeded store per worker but no order: each signs in on a tab of its own
and leaves the records the others look at alone, so ``pytest -n`` may run them anywhere. Each
takes the screenshot of its page for the README.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, StorageState, expect

from sync.store.audit import AuditFilter, list_audit
from sync.store.error_queue import ErrorFilter, list_errors
from sync.store.schema import ErrorStatus
from tests.browser.conftest import WAIT_MS, screenshot, sign_in
from tests.browser.console_seed import BROKEN_ORDERS, SeededConsole


@pytest.fixture(scope="module")
def signed_in(browser: Browser, console_url: str) -> Iterator[StorageState]:
    """Support staff's session cookie, from one sign-in through the form."""
    context = browser.new_context()
    sign_in(context.new_page(), console_url, "sam")
    yield context.storage_state()
    context.close()


@pytest.fixture
def page(browser: Browser, signed_in: StorageState) -> Iterator[Page]:
    """A tab of its own in that session (no test signs it out but the last)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, storage_state=signed_in)
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def _entry_id(seeded: SeededConsole, source_id: str) -> int:
    with seeded.store.engine.connect() as connection:
        rows = list_errors(connection, limit=None)
    (entry,) = [row for row in rows if row.source_id == source_id]
    return entry.id


def test_signing_in_opens_the_overview_with_each_flow_and_both_charts(
    browser: Browser, console_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    sign_in(page, console_url, "sam")
    expect(page.locator("#flows tr[data-flow='quote-to-cash']")).to_contain_text("run 2")
    expect(page.locator("table[data-group='entity']")).to_contain_text("order")
    expect(page.locator("#conflicts-waiting")).to_contain_text("conflicting fields waiting")
    expect(page.locator("#chart-runs")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#chart-queue")).to_have_attribute("data-drawn", "true")
    screenshot(page, "overview")
    context.close()


def test_filtering_the_queue_narrows_it_without_reloading_the_page(
    page: Page, console_url: str
) -> None:
    page.goto(f"{console_url}/errors")
    rows = page.locator("#error-table tbody tr[data-entry-id]")
    expect(rows).to_have_count(BROKEN_ORDERS + 1)
    page.evaluate("window.__samePage = true")  # gone if the browser loaded a new page

    page.select_option("select[name=entity]", "order")
    page.fill("#filter-text", "Pending")

    expect(rows).to_have_count(BROKEN_ORDERS)
    expect(page).to_have_url(
        f"{console_url}/errors?status=&entity=order&system=&error_class=&age=&q=Pending&sort=newest"
    )
    assert page.evaluate("window.__samePage") is True
    page.fill("#filter-text", "no such reason anywhere")
    expect(page.locator("#error-table td.empty")).to_be_visible()
    page.fill("#filter-text", "Pending")
    expect(rows).to_have_count(BROKEN_ORDERS)
    screenshot(page, "error-queue")


def test_bulk_retry_of_20_errors_lands_them_once_the_mapping_is_fixed(
    page: Page, console_url: str, seeded: SeededConsole
) -> None:
    seeded.fix_order_mapping()
    page.goto(f"{console_url}/errors?status=open&entity=order&q=Pending")
    expect(page.locator("#error-table tbody tr[data-entry-id]")).to_have_count(BROKEN_ORDERS)
    page.check("input[data-select-all]")
    expect(page.locator("input[name=ids]:checked")).to_have_count(BROKEN_ORDERS)

    page.click("button[value=retry]")

    outcome = page.locator("#outcome")
    expect(outcome).to_contain_text(f"{BROKEN_ORDERS} entries retried")
    expect(outcome).to_contain_text(f"wrote {2 * BROKEN_ORDERS}, rejected 0")
    landed = {order["external_id"] for order in seeded.sandboxes.billing.resources("orders")}
    canonical = {seeded.canonical_id("salesforce", order) for order in seeded.broken_order_ids}
    assert canonical <= landed
    with seeded.store.engine.connect() as connection:
        statuses = {
            row.source_id: row.status
            for row in list_errors(connection, where=ErrorFilter(entity="order"), limit=None)
        }
        retried = list_audit(connection, AuditFilter(action="error.retry"))
    assert {statuses[order] for order in seeded.broken_order_ids} == {ErrorStatus.RESOLVED}
    assert [(entry.actor, len(entry.records)) for entry in retried] == [("sam", BROKEN_ORDERS)]
    page.goto(f"{console_url}/journey?id={seeded.broken_order_ids[0]}")
    history = page.locator("article.journey ol.timeline")
    expect(history).to_contain_text("rejected")
    expect(history).to_contain_text("written")
    expect(page.locator("article.journey .journey-actions")).to_contain_text("error.retry")


def test_ignoring_an_entry_needs_a_note_and_the_audit_shows_it(
    page: Page, console_url: str, seeded: SeededConsole
) -> None:
    entry_id = _entry_id(seeded, seeded.hostile_order_id)
    page.goto(f"{console_url}/errors/{entry_id}")
    expect(page.locator("#reason")).to_contain_text("has no entry in the lookup table")
    expect(page.locator("#attempts")).to_contain_text("MappingError")
    expect(page.locator("pre.json")).to_contain_text(f'"Id": "{seeded.hostile_order_id}"')
    expect(page.locator("#source-link")).to_have_attribute(
        "href", f"{seeded.settings.salesforce.login_url}/{seeded.hostile_order_id}"
    )
    screenshot(page, "error-detail")

    page.click("button[value=ignore]")
    expect(page.locator("#outcome")).to_contain_text("say why in the note")

    page.goto(f"{console_url}/errors/{entry_id}")
    page.fill("textarea[name=note]", "Test order from the sales demo; never billed.")
    page.click("button[value=ignore]")
    expect(page.locator("#outcome")).to_contain_text("1 entries ignored")

    page.goto(f"{console_url}/errors/{entry_id}")
    expect(page.locator("h1 .status")).to_have_text("ignored")
    history = page.locator("#entry-history")
    expect(history).to_contain_text("error.ignore")
    expect(history).to_contain_text("sam")
    expect(history).to_contain_text("Test order from the sales demo; never billed.")


def test_a_records_journey_is_found_by_its_netsuite_id(
    page: Page, console_url: str, seeded: SeededConsole
) -> None:
    order_id = seeded.landed_order_id  # landed in the first run, whatever the others do
    canonical_id = seeded.canonical_id("salesforce", order_id)
    internal_id = seeded.external_id("erp", canonical_id)
    page.goto(f"{console_url}/journey")

    page.fill("input[name=id]", internal_id)
    page.click("#journey-search button")

    journey = page.locator(f"article.journey[data-canonical-id='{canonical_id}']")
    expect(journey).to_have_count(1)
    expect(journey.locator("tr[data-system='erp']")).to_contain_text(internal_id)
    expect(journey.locator("h2")).to_contain_text(order_id)
    expect(journey.locator("tr[data-system='billing']")).to_be_visible()
    expect(journey.locator("ol.timeline")).to_contain_text("captured")
    expect(journey.locator("ol.timeline")).to_contain_text("written")
    screenshot(page, "journey")

    page.fill("input[name=id]", "0000000000")
    page.click("#journey-search button")
    expect(page.locator("#journey-none")).to_be_visible()


def test_a_conflict_is_resolved_field_by_field(
    page: Page, console_url: str, seeded: SeededConsole
) -> None:
    canonical_id = seeded.canonical_id("salesforce", seeded.conflict_account_id)
    page.goto(f"{console_url}/conflicts")
    expect(page.locator(f"#conflict-table a:has-text('{canonical_id}')")).to_have_count(1)
    screenshot(page, "conflicts")
    page.click(f"#conflict-table a:has-text('{canonical_id}')")
    fields = page.locator("#conflict-fields")
    expect(fields.locator("tr[data-field='name']")).to_contain_text("Initech (sales)")
    expect(fields.locator("tr[data-field='name']")).to_contain_text("Initech (billing)")
    screenshot(page, "conflict-detail")

    page.click("button[value=per-field]")  # nothing chosen yet
    expect(page.locator("#problem")).to_contain_text("choose source or target for every field")

    page.check("tr[data-field='name'] input[value=source]")
    page.check("tr[data-field='phone'] input[value=target]")
    page.fill("textarea[name=note]", "Sales renamed it; billing has the right phone.")
    page.click("button[value=per-field]")

    expect(page.locator("#outcome")).to_contain_text(f"{canonical_id} was written")
    customer = seeded.billing_customer(canonical_id)
    assert (customer["name"], customer["phone"]) == ("Initech (sales)", "+1 212 555 0199")
    page.goto(f"{console_url}/conflicts")
    expect(page.locator(f"#conflict-table a:has-text('{canonical_id}')")).to_have_count(0)


def test_runs_list_and_one_runs_detail(page: Page, console_url: str) -> None:
    page.goto(f"{console_url}/runs")
    expect(page.locator("#run-table tbody tr a[href='/runs/2']")).to_have_count(1)
    screenshot(page, "runs")
    page.goto(f"{console_url}/runs/1")
    expect(page.locator("#run-entities")).to_contain_text("order")
    expect(page.locator("#run-api-calls")).to_contain_text("salesforce")
    screenshot(page, "run-detail")
    page.goto(f"{console_url}/runs/999")
    expect(page.locator("main")).to_contain_text("There is no run 999.")


def test_a_viewer_reads_the_queue_but_gets_no_action_buttons(
    browser: Browser, console_url: str
) -> None:
    context = browser.new_context()
    viewer = context.new_page()
    sign_in(viewer, console_url, "vera")
    viewer.goto(f"{console_url}/errors")
    expect(viewer.locator("#error-table")).to_be_visible()
    expect(viewer.locator("button[value=retry]")).to_have_count(0)
    context.close()


def test_signing_out_ends_the_session(browser: Browser, console_url: str) -> None:
    page = browser.new_context().new_page()
    sign_in(page, console_url, "sam")
    page.goto(f"{console_url}/errors")
    page.click("form.signout button")
    page.wait_for_url(f"{console_url}/login**")

    page.goto(f"{console_url}/errors")

    expect(page).to_have_url(f"{console_url}/login?next=%2Ferrors")
    page.context.close()
