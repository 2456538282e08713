"""Amendments into Stripe when Stripe misbehaves, when the data is hostile, and out of order.

The subscription update an amendment makes is the write that matters: a 429, a 5xx, an answer
that comes too late or never comes must leave the quantity changed exactly once (the retry
carries the same idempotency key, and a later write sees the change recorded in the
subscription's metadata). Values Stripe cannot take are refused with why, before anything is
sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import BillingSettings, RetrySettings
from connectors.base import WriteOutcome, WriteResult, WriteSpec
from connectors.billing.connector import BillingConnector
from connectors.billing.stripe.profile import StripeProfile
from connectors.billing.stripe.terms import OrderTerms
from sandboxes.billing.sandbox import BillingSandbox

NOW = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
ORDERS = WriteSpec("orders", "external_id")
UPDATE = "/stripe/v1/subscriptions/"


def stamp(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    with BillingSandbox() as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    running_sandbox.reset()
    return running_sandbox


def connector_for(sandbox: BillingSandbox, timeout: float = 30.0) -> BillingConnector:
    settings = BillingSettings(
        base_url=sandbox.stripe_url, api_key=SecretStr(sandbox.api_key), profile="stripe",
        auth="basic", timeout_seconds=timeout,
    )  # fmt: skip
    profile = StripeProfile("auto", OrderTerms(now=lambda: NOW))
    return BillingConnector(settings, RetrySettings(attempts=3), wait=lambda _: None,
                            profile=profile)  # fmt: skip


@pytest.fixture
def connector(sandbox: BillingSandbox) -> Iterator[BillingConnector]:
    made = connector_for(sandbox)
    yield made
    made.close()


class Sale:
    """A customer with a yearly subscription of 10 to product A, sold by order ``ord-1``."""

    def __init__(self, connector: BillingConnector) -> None:
        [customer] = connector.write(WriteSpec("customers", "external_id"),
                                     [{"external_id": "acc-1", "name": "Acme"}])  # fmt: skip
        [product] = connector.write(WriteSpec("products", "external_id"),
                                    [{"external_id": "prod-a", "name": "Platform"}])  # fmt: skip
        assert customer.target_id is not None
        assert product.target_id is not None
        self.customer, self.product = customer.target_id, product.target_id
        [bought] = connector.write(ORDERS, [self.order("ord-1", 10, "2026-01-01")])
        assert bought.ok, bought.error_message
        assert bought.target_id is not None
        self.subscription = bought.target_id

    def order(self, order_id: str, quantity: Any, start: str, **fields: Any) -> dict[str, Any]:
        line = {
            "external_id": f"{order_id}-1", "product": self.product, "quantity": quantity,
            "unit_amount": Decimal("40"), "recurring": {"interval": "year"},
        }  # fmt: skip
        return {
            "external_id": order_id, "customer": self.customer, "currency": "USD",
            "status": "activated", "start_date": start, "end_date": "2026-12-31",
            "lines": [line], **fields,
        }  # fmt: skip

    def amendment(self, order_id: str, delta: Any, start: str, **fields: Any) -> dict[str, Any]:
        changes = {"type": "amendment", "revises": self.subscription,
                   "proration_behavior": "create_prorations", **fields}  # fmt: skip
        return self.order(order_id, delta, start, **changes)


@pytest.fixture
def sale(connector: BillingConnector) -> Sale:
    return Sale(connector)


def item_quantity(sandbox: BillingSandbox, subscription_id: str) -> int:
    [subscription] = [s for s in sandbox.stripe_objects("subscriptions")
                      if s["id"] == subscription_id]  # fmt: skip
    [item] = subscription["items"]["data"]
    return int(item["quantity"])


def prorations(sandbox: BillingSandbox) -> list[tuple[int, int]]:
    return sorted(
        (item["period"]["start"], item["quantity"])
        for item in sandbox.stripe_objects("invoiceitems")
        if item.get("proration")
    )


def write_one(connector: BillingConnector, order: dict[str, Any]) -> WriteResult:
    [result] = connector.write(ORDERS, [order])
    return result


@pytest.mark.parametrize(
    ("status", "headers", "delay"),
    [
        (429, {"Retry-After": "0"}, 0.0),
        (503, {}, 0.0),
        (None, {}, 0.0),  # committed, then the answer is lost
        (None, {}, 1.0),  # committed, then answered after the client's timeout
    ],
    ids=["429", "503", "lost-reply", "timeout"],
)
def test_a_failed_subscription_update_is_retried_and_changes_the_quantity_once(
    sandbox: BillingSandbox,
    sale: Sale,
    status: int | None,
    headers: dict[str, str],
    delay: float,
) -> None:
    connector = connector_for(sandbox, timeout=0.3 if delay else 30.0)
    sandbox.inject_fault_on("POST", UPDATE, status, headers, delay_seconds=delay)
    try:
        result = write_one(connector, sale.amendment("ord-2", Decimal(5), "2026-03-01"))
    finally:
        connector.close()

    assert result.ok, result.error_message
    assert item_quantity(sandbox, sale.subscription) == 15
    assert prorations(sandbox) == [(stamp(date(2026, 3, 1)), 5)]
    updates = [r for r in sandbox.stripe_requests
               if r.method == "POST" and r.path.startswith("/v1/subscriptions/")]  # fmt: skip
    # An injected 429 or 5xx answers before Stripe sees the request; a lost or late answer
    # comes after it was committed, and the retry is replayed under the same key.
    assert len(updates) == (1 if status else 2)
    assert len({r.idempotency_key for r in updates}) == 1


def test_an_amendment_sent_again_by_a_later_run_changes_nothing(
    sandbox: BillingSandbox, connector: BillingConnector, sale: Sale
) -> None:
    amendment = sale.amendment("ord-2", Decimal(5), "2026-03-01")
    first = write_one(connector, amendment)
    later = connector_for(sandbox)
    try:
        again = write_one(later, amendment)
    finally:
        later.close()

    assert (first.ok, again.ok, again.target_id) == (True, True, first.target_id)
    assert first.target_id == f"{sale.subscription}#ord-2"
    assert item_quantity(sandbox, sale.subscription) == 15
    assert prorations(sandbox) == [(stamp(date(2026, 3, 1)), 5)]


def test_amendments_written_newest_first_end_where_they_would_in_order(
    sandbox: BillingSandbox, connector: BillingConnector, sale: Sale
) -> None:
    assert write_one(connector, sale.amendment("ord-3", Decimal(-3), "2026-05-01")).ok
    assert write_one(connector, sale.amendment("ord-2", Decimal(5), "2026-03-01")).ok

    assert item_quantity(sandbox, sale.subscription) == 12
    assert prorations(sandbox) == [(stamp(date(2026, 3, 1)), 5), (stamp(date(2026, 5, 1)), -3)]


def test_a_cancellation_cancels_at_its_date_with_the_unused_part_credited(
    sandbox: BillingSandbox, connector: BillingConnector, sale: Sale
) -> None:
    result = write_one(connector, sale.amendment("ord-4", Decimal(-10), "2026-07-01"))

    assert result.ok, result.error_message
    [subscription] = sandbox.stripe_objects("subscriptions")
    assert (subscription["status"], subscription["cancel_at"]) == (
        "active",
        stamp(date(2026, 7, 1)),
    )
    assert prorations(sandbox) == [(stamp(date(2026, 7, 1)), -10)]


def net_prorations(sandbox: BillingSandbox) -> int:
    return sum(int(i["amount"]) for i in sandbox.stripe_objects("invoiceitems") if i["proration"])


@pytest.mark.parametrize("newest_first", [False, True], ids=["in-order", "newest-first"])
def test_a_cancellation_captured_before_the_upsell_it_undoes_ends_the_same(
    sandbox: BillingSandbox, connector: BillingConnector, sale: Sale, newest_first: bool
) -> None:
    upsell = sale.amendment("ord-2", Decimal(5), "2026-03-01")
    cancellation = sale.amendment("ord-3", Decimal(-15), "2026-07-01")
    for order in [cancellation, upsell] if newest_first else [upsell, cancellation]:
        result = write_one(connector, order)
        assert result.ok, result.error_message

    [subscription] = sandbox.stripe_objects("subscriptions")
    assert subscription["cancel_at"] == stamp(date(2026, 7, 1))
    # Billed 15 until the cancellation either way: the upsell's days before it, no more.
    assert item_quantity(sandbox, sale.subscription) == 15
    # 5 more for 03-01 to 07-01, 10 back for 07-01 to the end of the term, in cents; each
    # proration item is rounded on its own, so the two orders may differ by a cent.
    exact = 4000 * (5 * 122 - 10 * 184) / 365
    assert abs(net_prorations(sandbox) - exact) <= 1


@pytest.mark.parametrize(
    ("changes", "code", "says"),
    [
        ({"quantity": Decimal("1.5")}, "parameter_invalid", "whole number other than 0"),
        ({"quantity": Decimal("1e12")}, "parameter_invalid", "whole number other than 0"),
        ({"quantity": "NaN"}, "parameter_invalid", "whole number other than 0"),
        ({"revises": None}, "parameter_missing", "needs revises"),
        ({"proration_behavior": "<b>always</b>"}, "parameter_invalid", "proration_behavior"),
        ({"start_date": "2026-13-01"}, "parameter_invalid", "is not a date"),
    ],
    ids=["fraction", "huge", "nan", "no-original", "markup", "bad-date"],
)
def test_an_amendment_stripe_cannot_take_is_refused_with_why_and_nothing_is_sent(
    sandbox: BillingSandbox,
    connector: BillingConnector,
    sale: Sale,
    changes: dict[str, Any],
    code: str,
    says: str,
) -> None:
    amendment = sale.amendment("ord-9", Decimal(5), "2026-03-01")
    line_changes = {k: v for k, v in changes.items() if k == "quantity"}
    amendment["lines"][0].update(line_changes)
    amendment.update({k: v for k, v in changes.items() if k != "quantity"})
    before = len(sandbox.stripe_requests)

    result = write_one(connector, amendment)

    assert result.outcome is WriteOutcome.REJECTED
    assert result.error_code == code
    assert says in (result.error_message or "")
    posts = [r for r in sandbox.stripe_requests[before:] if r.method == "POST"]
    assert posts == []
    assert item_quantity(sandbox, sale.subscription) == 10


def test_a_later_write_of_the_original_order_keeps_what_its_amendments_changed(
    sandbox: BillingSandbox, connector: BillingConnector, sale: Sale
) -> None:
    assert write_one(connector, sale.amendment("ord-2", Decimal(5), "2026-03-01")).ok
    assert write_one(connector, sale.amendment("ord-3", Decimal(-15), "2026-07-01")).ok
    # Someone edits the original order after the cancellation: it is written again.
    corrected = sale.order("ord-1", 10, "2026-01-01", metadata={"order_number": "00000001"})

    result = write_one(connector, corrected)

    assert result.ok, result.error_message
    [subscription] = sandbox.stripe_objects("subscriptions")
    # 10 + 5 billed until the cancellation's date, not the order's end.
    assert item_quantity(sandbox, sale.subscription) == 15
    assert subscription["cancel_at"] == stamp(date(2026, 7, 1))
