"""Reporting periods: parsing, days, and the months before."""

from __future__ import annotations

from datetime import date

import pytest

from sync.assurance.metrics_period import BadPeriod, Period, parse_period, periods_ending


def test_a_period_is_a_calendar_month() -> None:
    period = parse_period("2028-02")
    assert (period.start, period.end, period.days) == (date(2028, 2, 1), date(2028, 2, 29), 29)
    assert period.previous() == Period(2028, 1)
    assert Period(2026, 1).previous() == Period(2025, 12)


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "26-11", "november", "", "2026-11-01"]
)
def test_a_string_that_names_no_month_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(BadPeriod, match=r"YYYY-MM|names no month"):
        parse_period(text)


def test_the_last_twelve_periods_end_with_the_one_given_oldest_first() -> None:
    months = periods_ending(Period(2026, 3), 12)
    assert months[0] == Period(2025, 4)
    assert months[-1] == Period(2026, 3)
    assert len(set(months)) == 12
