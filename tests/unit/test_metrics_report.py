"""The report from canonical payloads: facts read, per currency, restated, and shown."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from sync.assurance.metrics_facts import revenue_facts
from sync.assurance.metrics_period import Period
from sync.assurance.metrics_report import revenue_report
from sync.assurance.metrics_rows import report_json, shown_amount, shown_days

D = Decimal
SOURCE = {"system": "erp", "object": "x", "id": "1"}
MODIFIED = "2026-11-01T00:00:00+00:00"


def _record(record_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": record_id, "source": SOURCE, "source_modified_at": MODIFIED, **fields}


def _payloads() -> dict[str, list[dict[str, Any]]]:
    return {
        "subscription": [
            _record("s1", account_id="a1", product_id="p", quantity="2", net_price="600",
                    currency="USD", start_date="2026-01-01", term_months=12),
            _record("s2", account_id="a2", product_id="p", quantity="1", net_price="1200",
                    currency="EUR", start_date="2026-11-01", term_months=12),
        ],
        "order": [
            _record("o1", account_id="a1", status="activated", effective_date="2026-11-03",
                    currency="USD", total="1200"),
            _record("o2", account_id="a1", status="draft", effective_date="2026-11-03",
                    currency="USD", total="99999"),
        ],
        "invoice": [
            _record("i1", account_id="a1", order_id="o1", status="open",
                    invoice_date="2026-11-03", due_date="2026-11-10", currency="USD",
                    subtotal="400", total="400", amount_due="400"),
            _record("i2", account_id="a1", status="void", invoice_date="2026-11-03",
                    currency="USD", subtotal="7", total="7", amount_due="0"),
        ],
        "payment": [
            _record("p1", account_id="a1", amount="150", currency="USD",
                    received_on="2026-11-20", status="succeeded"),
            _record("p2", account_id="a1", amount="999", currency="USD",
                    received_on="2026-11-21", status="failed"),
        ],
        "credit_memo": [],
        "contract": [_record("bad", account_id="a1")],  # no longer validates
    }  # fmt: skip


def test_a_period_report_from_payloads_hand_computed() -> None:
    facts = revenue_facts(_payloads(), {"a1": "Acme"}, {"USD": 12_345})
    report = revenue_report(facts, Period(2026, 11))
    shown = report_json(report)
    usd = shown["currencies"]["USD"]
    # s1: 2 x 600 / 12 = 100 MRR, 1,200 ARR, running all year: no movement.
    assert (usd["mrr"], usd["arr"], usd["new_arr"]) == ("100.00", "1200.00", "0.00")
    assert usd["bookings"] == "1200.00"  # o1 only; the draft books nothing
    assert usd["backlog"] == "800.00"  # 1,200 - 400 invoiced
    assert usd["billings"] == "400.00"  # i1; the voided i2 was never billed
    assert usd["collections"] == "150.00"  # p1; the failed p2 collected nothing
    # i1 owes 400 on Nov 30, due Nov 10: 20 days past due.
    assert (usd["ar"], usd["ar_1_30"], usd["ar_current"]) == ("400.00", "400.00", "0.00")
    assert usd["dso"] == "30.0"  # 400 / 400 x 30
    assert usd["leakage"] == "123.45"
    eur = shown["currencies"]["EUR"]
    assert (eur["arr"], eur["new_arr"]) == ("1200.00", "1200.00")  # s2 started in November
    assert eur["dso"] is None  # nothing billed in EUR
    assert shown["backlog_by_customer"] == [
        {"account_id": "a1", "account": "Acme", "currency": "USD", "backlog": "800.00"}
    ]
    assert shown["skipped_records"] == {"contract": 1}


def test_the_reporting_currency_restates_every_currency_at_the_as_of_rate() -> None:
    rates = {"USD": D("0.9"), "EUR": D(1)}

    def rate_of(currency: str, on: date) -> Decimal:
        assert on == date(2026, 11, 30)
        return rates[currency]

    facts = revenue_facts(_payloads(), {}, {"USD": 10_000})
    report = revenue_report(facts, Period(2026, 11), reporting=("EUR", rate_of))
    assert report.reporting is not None
    reporting = report_json(report)["reporting"]
    # ARR: 1,200 USD x 0.9 + 1,200 EUR = 2,280 EUR; leakage 100 USD x 0.9 = 90 EUR.
    assert (reporting["currency"], reporting["arr"], reporting["leakage"]) == (
        "EUR", "2280.00", "90.00"
    )  # fmt: skip
    assert reporting["dso"] == "30.0"  # 360 / 360 x 30: the ratio survives the rate


def test_a_missing_rate_fails_the_report_instead_of_counting_zero() -> None:
    class NoRate(Exception):
        pass

    def rate_of(currency: str, on: date) -> Decimal:
        if currency == "USD":
            raise NoRate(f"no rate for {currency} on {on}")
        return D(1)

    facts = revenue_facts(_payloads(), {}, {})
    with pytest.raises(NoRate, match="USD on 2026-11-30"):
        revenue_report(facts, Period(2026, 11), reporting=("EUR", rate_of))


def test_hostile_payloads_are_left_out_and_counted_and_huge_amounts_stay_exact() -> None:
    payloads = _payloads()
    payloads["order"] += [
        _record("nan", account_id="a1", status="activated", effective_date="2026-11-03",
                currency="USD", total="NaN"),
        _record("typed", account_id=["a1"], status="activated", effective_date="2026-11-03",
                currency="USD", total="1"),
        _record("date", account_id="a1", status="activated", effective_date="2026-13-45",
                currency="USD", total="1"),
        _record("huge\x00\u202e", account_id="a1\x1b[31m", status="activated",
                effective_date="2026-11-30", currency="USD", total="1" + "0" * 30),
    ]  # fmt: skip
    report = report_json(revenue_report(revenue_facts(payloads, {}, {}), Period(2026, 11)))
    assert report["skipped_records"] == {"contract": 1, "order": 3}
    # 1,200 (o1) + 10^30: printed whole (Decimal keeps 28 significant digits, so the 1,200
    # is rounded within them), never an error that would lose the whole report.
    bookings = Decimal(report["currencies"]["USD"]["bookings"])
    assert abs(bookings - (10**30 + 1200)) <= 1000
    assert report["currencies"]["USD"]["bookings"].endswith(".00")


def test_large_amounts_within_decimal_precision_stay_exact_to_the_cent() -> None:
    payloads = _payloads()
    payloads["order"].append(
        _record("large", account_id="a1", status="activated", effective_date="2026-11-30",
                currency="USD", total="123456789012345678.91")
    )  # fmt: skip
    report = report_json(revenue_report(revenue_facts(payloads, {}, {}), Period(2026, 11)))
    assert report["currencies"]["USD"]["bookings"] == "123456789012346878.91"  # + 1,200


def test_days_and_amounts_of_any_size_are_shown_without_failing() -> None:
    assert shown_days(Decimal("3E+33")) == "3" + "0" * 33 + ".0"
    assert shown_days(Decimal("45.25")) == "45.2"  # half to even
    assert shown_amount(Decimal("1E+40"), "JPY") == "1" + "0" * 40  # no minor units
    assert shown_amount(Decimal("0.125"), "USD") == "0.12"
