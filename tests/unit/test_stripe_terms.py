"""How an order's dates and payment terms become a Stripe subscription's (pure rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from connectors.billing.stripe.terms import (
    TermsError,
    collection_terms,
    has_ended,
    order_date,
    service_dates,
)

NOON = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _stamp(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def test_an_order_ending_today_still_runs_until_midnight_and_then_has_ended() -> None:
    today = date(2026, 6, 15)

    assert not has_ended(today, NOON)
    assert service_dates(None, today, NOON) == {"cancel_at": _stamp(date(2026, 6, 16))}
    assert has_ended(date(2026, 6, 14), NOON)
    assert service_dates(None, date(2026, 6, 14), NOON) == {}
    assert not has_ended(None, NOON)


def test_only_a_start_still_ahead_anchors_the_billing_cycle() -> None:
    assert service_dates(date(2026, 6, 15), None, NOON) == {}  # today, already begun
    assert service_dates(date(2026, 6, 16), None, NOON) == {
        "billing_cycle_anchor": _stamp(date(2026, 6, 16)),
        "proration_behavior": "none",
    }


@pytest.mark.parametrize(
    ("params", "terms"),
    [
        ({}, {"collection_method": "send_invoice", "days_until_due": 30}),
        ({"days_until_due": 0}, {"collection_method": "send_invoice", "days_until_due": 0}),
        ({"days_until_due": "45"}, {"collection_method": "send_invoice", "days_until_due": 45}),
        (
            {"collection_method": "charge_automatically"},
            {"collection_method": "charge_automatically", "payment_behavior": "default_incomplete"},
        ),
        (
            {"collection_method": "charge_automatically", "payment_behavior": "default_incomplete"},
            {"collection_method": "charge_automatically", "payment_behavior": "default_incomplete"},
        ),
    ],
)
def test_collection_terms_never_charge_unasked(params: dict[str, Any], terms: Any) -> None:
    assert collection_terms(params, 30) == terms


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"collection_method": "charge_automatically", "payment_behavior": "allow_incomplete"},
         "payment_behavior"),
        ({"collection_method": "charge_automatically", "payment_behavior": "error_if_incomplete"},
         "payment_behavior"),
        ({"collection_method": "charge_automatically", "days_until_due": 5}, "days_until_due"),
        ({"collection_method": "invoice_later"}, "collection_method"),
        ({"days_until_due": "-1"}, "days_until_due"),
        ({"days_until_due": "1e9"}, "days_until_due"),
        ({"days_until_due": "NaN"}, "days_until_due"),
        ({"days_until_due": "2.5"}, "days_until_due"),
    ],
)  # fmt: skip
def test_terms_that_could_charge_or_make_no_sense_are_refused_by_parameter(
    params: dict[str, Any], param: str
) -> None:
    with pytest.raises(TermsError) as raised:
        collection_terms(params, 30)

    assert raised.value.param == param


def test_order_dates_read_as_dates_or_iso_text_and_name_a_bad_one() -> None:
    assert order_date({"end_date": date(2026, 1, 2)}, "end_date") == date(2026, 1, 2)
    assert order_date({"end_date": "2026-01-02"}, "end_date") == date(2026, 1, 2)
    assert order_date({"end_date": ""}, "end_date") is None
    with pytest.raises(TermsError, match="end_date '31/12/2026' is not a date"):
        order_date({"end_date": "31/12/2026"}, "end_date")
