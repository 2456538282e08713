"""billing.lookup against the Stripe sandbox: search, list, none, and a server without search.

Every test goes over the wire (requests to the sandbox's Stripe API). "A fresh connector" is
what a later run, or a run on a lost store, starts with: no Stripe id for any record.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connectors.base import WriteOutcome, WriteResult, WriteSpec
from connectors.errors import ConfigError, TransientError
from sandboxes.billing.sandbox import BillingSandbox
from tests.integration.billing_harness import MakeConnector, connector_factory

CUSTOMERS = WriteSpec("customers", "external_id")
PRODUCTS = WriteSpec("products", "external_id")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    with BillingSandbox() as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    running_sandbox.reset()  # also switches search back on, without lag
    return running_sandbox


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make_connector(sandbox: BillingSandbox, waits: list[float]) -> Iterator[MakeConnector]:
    with connector_factory(sandbox, waits, profile="stripe", auth="basic") as make:
        yield make


def _customers(count: int, name: str = "Acme") -> list[dict[str, Any]]:
    return [{"external_id": f"acc-{n:03d}", "name": f"{name} {n}"} for n in range(count)]


def _lists(sandbox: BillingSandbox, path: str) -> int:
    return sum(1 for r in sandbox.stripe_requests if r.method == "GET" and r.path == path)


def _searches(sandbox: BillingSandbox) -> int:
    return sum(1 for r in sandbox.stripe_requests if r.path.endswith("/search"))


def _one_object_per_tag(sandbox: BillingSandbox, collection: str) -> list[str]:
    tags = [o["metadata"]["revbridge_id"] for o in sandbox.stripe_objects(collection)]
    assert len(tags) == len(set(tags)), f"duplicate {collection}: {sorted(tags)}"
    return tags


def test_without_search_auto_falls_back_to_one_listing_per_collection_per_run(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    sandbox.set_stripe_search(enabled=False)
    first = make_connector().write(CUSTOMERS, _customers(150))
    before = len(sandbox.stripe_requests)

    # A run on a lost store: no Stripe ids, and a changed name on every record.
    again = make_connector().write(CUSTOMERS, _customers(150, name="Acme Japan"))

    assert {r.outcome for r in first} == {WriteOutcome.CREATED}
    assert {r.outcome for r in again} == {WriteOutcome.UPDATED}
    assert [r.target_id for r in again] == [r.target_id for r in first]
    assert len(_one_object_per_tag(sandbox, "customers")) == 150
    later = sandbox.stripe_requests[before:]
    # One 404 from search, then one pass over the 150 customers (two pages of 100), once.
    assert sum(1 for r in later if r.path == "/v1/customers/search") == 1
    assert sum(1 for r in later if r.method == "GET" and r.path == "/v1/customers") == 2
    assert {r.path for r in later if r.method == "POST"} == {
        f"/v1/customers/{r.target_id}" for r in first
    }


def test_objects_created_in_the_run_are_found_again_without_a_second_listing(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector(lookup="list")
    connector.write(CUSTOMERS, _customers(3))
    # The same records again in the same run, without the ids (as a retried page has them).
    results = connector.write(CUSTOMERS, _customers(3, name="Renamed"))

    assert {r.outcome for r in results} == {WriteOutcome.UPDATED}
    assert len(_one_object_per_tag(sandbox, "customers")) == 3
    assert _lists(sandbox, "/v1/customers") == 1
    assert _searches(sandbox) == 0


def test_list_finds_subscriptions_stripe_lists_only_when_asked_for_canceled_ones(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector(lookup="list")
    [customer] = connector.write(CUSTOMERS, _customers(1))
    [product] = connector.write(PRODUCTS, [{"external_id": "prod-1", "name": "Platform"}])
    assert customer.target_id is not None
    assert product.target_id is not None
    order = _order(customer.target_id, product.target_id)
    [created] = connector.write(WriteSpec("orders", "external_id"), [order])
    [cancelled] = make_connector(lookup="list").write(
        WriteSpec("orders", "external_id"), [{**order, "status": "cancelled"}]
    )

    assert cancelled.target_id == created.target_id
    [subscription] = sandbox.stripe_objects("subscriptions")
    assert subscription["status"] == "canceled"
    listed = [r for r in sandbox.stripe_requests if r.path == "/v1/subscriptions"]
    assert all(r.method == "POST" or "status" in r.query_names for r in listed)


def _order(customer: str, product: str, external_id: str = "ord-1") -> dict[str, Any]:
    line = {"external_id": f"{external_id}-1", "product": product, "quantity": 2}
    line |= {"unit_amount": 1200, "recurring": {"interval": "year"}}
    return {"external_id": external_id, "customer": customer, "currency": "USD", "lines": [line]}


def test_search_mode_names_the_missing_search_endpoint_and_the_setting_to_use(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    sandbox.set_stripe_search(enabled=False)

    with pytest.raises(ConfigError) as raised:
        make_connector(lookup="search").write(CUSTOMERS, _customers(1))

    message = str(raised.value)
    assert "/v1/customers/search answered HTTP 404" in message
    assert "no search endpoint for customers" in message
    assert "billing.lookup: list" in message
    assert "no such collection" not in message
    assert sandbox.stripe_objects("customers") == []


def test_a_missing_list_endpoint_is_named_with_what_to_check(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector(base_url=sandbox.stripe_url + "/nowhere")

    with pytest.raises(ConfigError) as raised:
        connector.write(CUSTOMERS, _customers(1))

    message = str(raised.value)
    assert "/nowhere/v1/customers answered HTTP 404" in message
    assert "check billing.base_url" in message
    assert "billing.lookup: none" in message


def test_none_never_looks_up_and_a_replayed_create_returns_the_first_object(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    [first] = make_connector(lookup="none").write(CUSTOMERS, _customers(1))
    [again] = make_connector(lookup="none").write(CUSTOMERS, _customers(1))

    assert again.target_id == first.target_id
    assert len(sandbox.stripe_objects("customers")) == 1
    assert _searches(sandbox) == 0
    assert _lists(sandbox, "/v1/customers") == 0
    replay = [r for r in sandbox.stripe_requests if r.method == "POST"]
    assert len(replay) == 2
    assert replay[0].idempotency_key == replay[1].idempotency_key


def test_a_retried_create_is_not_duplicated_while_search_lags(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    sandbox.set_stripe_search(lag_seconds=3600)  # new objects stay out of search for an hour
    sandbox.drop_every(2)  # the search answers; the create is committed, its reply lost
    with pytest.raises(TransientError):
        make_connector(attempts=1, lookup="search").write(CUSTOMERS, _customers(1))
    sandbox.drop_every(0)
    assert len(sandbox.stripe_objects("customers")) == 1

    # The next run finds nothing (search lags) and creates again, with the same key.
    [retried] = make_connector(lookup="search").write(CUSTOMERS, _customers(1))

    [created] = sandbox.stripe_objects("customers")
    assert (retried.outcome, retried.target_id) == (WriteOutcome.CREATED, created["id"])
    posts = [r for r in sandbox.stripe_requests if r.method == "POST"]
    assert len(posts) == 2
    assert posts[0].idempotency_key == posts[1].idempotency_key
    searches = [r for r in sandbox.stripe_requests if r.path == "/v1/customers/search"]
    assert len(searches) == 2  # both runs looked, and search showed nothing either time


def test_a_lost_reply_is_retried_within_the_call_and_replayed_not_repeated(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    sandbox.set_stripe_search(enabled=False)
    sandbox.drop_every(2)  # every second request is committed, then its answer is lost
    # One call at a time: in parallel, one call could draw every even-numbered request.
    results = make_connector(attempts=4, max_concurrency=1).write(CUSTOMERS, _customers(5))
    sandbox.drop_every(0)

    assert all(isinstance(r, WriteResult) and r.ok for r in results)
    assert len(_one_object_per_tag(sandbox, "customers")) == 5


def test_list_pages_survive_server_errors_and_rate_limits_mid_pagination(
    make_connector: MakeConnector, sandbox: BillingSandbox, waits: list[float]
) -> None:
    make_connector().write(CUSTOMERS, _customers(250))
    connector = make_connector(attempts=4, lookup="list")
    # Hold the second page of the listing, then have it answered 503, then 429, then served.
    gate = sandbox.server.hold_requests("GET", "/stripe/v1/customers?", let_through=1)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(connector.write, CUSTOMERS, _customers(250, name="Again"))
        assert gate.wait_until_held(10)
        sandbox.inject_fault(503)
        sandbox.inject_fault(429, {"Retry-After": "2"})
        gate.release()
        results = running.result(timeout=60)

    assert {r.outcome for r in results} == {WriteOutcome.UPDATED}
    assert len(_one_object_per_tag(sandbox, "customers")) == 250
    assert waits[-1] == 2.0  # Retry-After honoured
    pages = [r for r in sandbox.stripe_requests if r.path == "/v1/customers" and r.method == "GET"]
    assert [r.query_names for r in pages] == [
        ("limit",),
        ("limit", "starting_after"),
        ("limit", "starting_after"),
    ]


def test_a_list_that_fails_for_good_stops_the_run_and_writes_nothing(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    make_connector().write(CUSTOMERS, _customers(120))
    connector = make_connector(attempts=2, lookup="list")
    sandbox.inject_rate(1.0, 503)

    with pytest.raises(TransientError):
        connector.write(CUSTOMERS, _customers(1, name="Changed"))
    sandbox.clear_faults()

    assert sandbox.stripe_writes[("customers", "updated")] == 0
    assert len(_one_object_per_tag(sandbox, "customers")) == 120
