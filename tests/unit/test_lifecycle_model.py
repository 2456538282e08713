"""The canonical model speaks the subscription lifecycle: order types, charge terms, signed
quantities that lower only what an amendment names, and contracts that know their renewal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from mappings.canonical import (
    BillingFrequency,
    ChargeType,
    Contract,
    LifecycleEvent,
    Order,
    Quote,
    Subscription,
)

SOURCE = {"system": "salesforce", "object": "Order", "id": "8015g00000ABCDEAA1"}
STAMP = "2026-01-05T10:00:00Z"


def _line(quantity: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"l{quantity}",
        "source": {**SOURCE, "object": "OrderItem", "id": "8025g00000ABCDEAA1"},
        "source_modified_at": STAMP,
        "order_id": "o1",
        "product_id": "p1",
        "quantity": quantity,
        "unit_price": "100",
        "total": str(Decimal(quantity) * 100),
        **extra,
    }


def _order(*lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "o1",
        "source": SOURCE,
        "source_modified_at": STAMP,
        "account_id": "a1",
        "status": "activated",
        "effective_date": "2026-07-01",
        "currency": "USD",
        "total": "0",
        "lines": list(lines),
        **extra,
    }


def _subscription(quantity: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": "s2",
        "source": {**SOURCE, "object": "SBQQ__Subscription__c", "id": "a125g0000000002AAA"},
        "source_modified_at": STAMP,
        "account_id": "a1",
        "product_id": "p1",
        "quantity": quantity,
        "net_price": "100",
        "currency": "USD",
        "start_date": "2026-07-01",
        **extra,
    }


def _messages(error: ValidationError) -> str:
    return " | ".join(detail["msg"] for detail in error.errors())


def test_records_that_say_nothing_of_the_lifecycle_stay_new_and_valid() -> None:
    order = Order.model_validate(_order(_line("3")))
    subscription = Subscription.model_validate(_subscription("3"))
    assert order.order_type is LifecycleEvent.NEW
    assert order.lines[0].charge_type is None
    assert order.lines[0].revised_order_line_id is None
    # A subscription is recurring unless its mapping says otherwise: today's meaning.
    assert subscription.charge_type is ChargeType.RECURRING
    assert subscription.revised_subscription_id is None


def test_a_downgrade_amendment_line_that_revises_a_line_may_be_negative() -> None:
    line = _line("-5", revised_order_line_id="l-original", charge_type="recurring",
                 billing_frequency="monthly", billing_type="advance", term_months=6,
                 proration_multiplier="0.5")  # fmt: skip
    order = Order.model_validate(_order(line, order_type="amendment"))
    assert order.lines[0].quantity == Decimal(-5)
    assert order.lines[0].billing_frequency is BillingFrequency.MONTHLY
    assert order.lines[0].proration_multiplier == Decimal("0.5")


def test_a_negative_line_that_revises_nothing_is_rejected_with_why() -> None:
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(_order(_line("-5"), order_type="amendment"))
    assert _messages(caught.value) == (
        "order_line.quantity is -5 but the line revises nothing: only an amendment line that "
        "revises a subscription may lower a quantity"
    )


def test_a_new_order_may_not_lower_a_quantity_even_with_a_link() -> None:
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(_order(_line("3"), _line("-2", revised_subscription_id="s1")))
    assert "order is a new order but its line 2 has quantity -2" in _messages(caught.value)


def test_a_cancellation_order_lowers_quantities_of_what_it_revises() -> None:
    order = Order.model_validate(
        _order(_line("-10", revised_subscription_id="s1"), order_type="cancellation")
    )
    assert order.order_type is LifecycleEvent.CANCELLATION


@pytest.mark.parametrize("quantity", ["0", "0.00", "-0"])
def test_a_zero_quantity_is_rejected_everywhere(quantity: str) -> None:
    with pytest.raises(ValidationError) as line_error:
        Order.model_validate(_order(_line(quantity, revised_order_line_id="l0"),
                                    order_type="amendment"))  # fmt: skip
    with pytest.raises(ValidationError) as subscription_error:
        Subscription.model_validate(_subscription(quantity, revised_subscription_id="s1"))
    for error in (line_error.value, subscription_error.value):
        assert "quantity is 0" in _messages(error)


@pytest.mark.parametrize("hostile", ["NaN", "Infinity", "-Infinity", "lots", True, [1]])
def test_quantities_that_are_no_number_are_rejected(hostile: Any) -> None:
    with pytest.raises(ValidationError):
        Subscription.model_validate(_subscription(hostile))


def test_a_subscription_delta_needs_the_subscription_it_revises() -> None:
    delta = Subscription.model_validate(_subscription("-3", revised_subscription_id="s1"))
    assert delta.quantity == Decimal(-3)
    with pytest.raises(ValidationError) as caught:
        Subscription.model_validate(_subscription("-3"))
    assert "subscription.quantity is -3 but the record revises nothing" in _messages(caught.value)


def test_a_cancelled_subscription_keeps_its_termination_and_renewal_dates() -> None:
    record = Subscription.model_validate(
        _subscription(
            "-10",
            revised_subscription_id="s1",
            terminated_on="2026-07-01",
            renewed_on=None,
            subscription_type="renewable",
        )
    )
    assert record.terminated_on == date(2026, 7, 1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("charge_type", "Recurring"),
        ("billing_frequency", "fortnightly"),
        ("billing_type", "later"),
        ("term_months", 0),
        ("proration_multiplier", "-0.5"),
        ("subscription_type", "forever"),
    ],
)
def test_charge_terms_outside_their_vocabulary_are_rejected(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Subscription.model_validate(_subscription("1", **{field: value}))
    assert caught.value.errors()[0]["loc"] == (field,)


def _quote(*lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "q1",
        "source": {**SOURCE, "object": "SBQQ__Quote__c"},
        "source_modified_at": STAMP,
        "account_id": "a1",
        "status": "accepted",
        "currency": "USD",
        "total": "0",
        "lines": list(lines),
        **extra,
    }


def _quote_line(quantity: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "ql1",
        "source": {**SOURCE, "object": "SBQQ__QuoteLine__c"},
        "source_modified_at": STAMP,
        "quote_id": "q1",
        "product_id": "p1",
        "quantity": quantity,
        "list_price": "100",
        "net_price": "100",
        "total": "0",
        **extra,
    }


def test_an_amendment_quote_line_may_bring_a_quantity_to_zero_from_its_prior() -> None:
    # CPQ shows an amendment quote line's quantity after the change, beside the prior one.
    line = _quote_line("0", prior_quantity="10", upgraded_subscription_id="s1")
    quote = Quote.model_validate(_quote(line, quote_type="amendment"))
    assert (quote.lines[0].quantity, quote.lines[0].prior_quantity) == (Decimal(0), Decimal(10))
    with pytest.raises(ValidationError) as caught:
        Quote.model_validate(_quote(_quote_line("0")))
    assert "quote_line.quantity is 0 and the line has no prior quantity" in _messages(caught.value)


def test_a_renewal_contract_knows_what_it_renews_and_its_co_termination_date() -> None:
    contract = Contract.model_validate({
        "id": "c2", "source": {**SOURCE, "object": "Contract"}, "source_modified_at": STAMP,
        "account_id": "a1", "status": "activated", "start_date": "2027-01-01",
        "currency": "USD", "renewed_contract_id": "c1", "co_termination_date": "2027-12-31",
    })  # fmt: skip
    assert (contract.renewed_contract_id, contract.co_termination_date) == (
        "c1", date(2027, 12, 31)
    )  # fmt: skip
