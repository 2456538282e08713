"""Reporting periods: calendar months named ``YYYY-MM``, their days, and the ones before them."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


class BadPeriod(ValueError):
    """A period string that names no calendar month."""


@dataclass(frozen=True, order=True)
class Period:
    """One calendar month, ``start`` to ``end`` inclusive."""

    year: int
    month: int

    @property
    def start(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The last day of the month."""
        return date(self.year, self.month, self.days)

    @property
    def days(self) -> int:
        """How many days the month has (28 to 31)."""
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def name(self) -> str:
        """``YYYY-MM``, as the CLI takes it."""
        return f"{self.year:04d}-{self.month:02d}"

    def holds(self, day: date) -> bool:
        """True when ``day`` falls in this month."""
        return (day.year, day.month) == (self.year, self.month)

    def previous(self) -> Period:
        """The month before."""
        if self.month == 1:
            return Period(self.year - 1, 12)
        return Period(self.year, self.month - 1)


def parse_period(text: str) -> Period:
    """``"2026-11"`` as a Period; BadPeriod names what is wrong with anything else."""
    match = _PERIOD.fullmatch(text.strip())
    if match is None:
        raise BadPeriod(f"period {text!r} is not a month written YYYY-MM (e.g. 2026-11)")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or year < 1:
        raise BadPeriod(f"period {text!r} names no month: the month is 01 to 12")
    return Period(year, month)


def period_of(day: date) -> Period:
    """The month ``day`` falls in."""
    return Period(day.year, day.month)


def periods_ending(last: Period, count: int) -> list[Period]:
    """``count`` months ending with ``last``, oldest first."""
    months = [last]
    while len(months) < count:
        months.append(months[-1].previous())
    return months[::-1]
