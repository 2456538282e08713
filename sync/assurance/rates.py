"""Amounts in the reporting currency, through the date-effective rates table of the config.

Pure: no network, no store. A rate applies from its ``from`` date until the next row of the
same currency; an amount dated before a currency's first row, or in a currency with no row,
has no rate, and that is an error naming the currency and the date, never a silent zero.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from config.assurance import AssuranceSettings, RateSettings
from connectors.errors import ConfigError
from sync.assurance.values import to_major, to_minor


class MissingRate(ConfigError):
    """No rate converts ``currency`` into the reporting currency on ``on_date``."""

    def __init__(self, currency: str, on_date: date, reporting_currency: str) -> None:
        super().__init__(
            f"no rate for {currency} into {reporting_currency} on {on_date.isoformat()}: "
            f"add a row to assurance.rates with currency {currency} and a `from` date on "
            "or before it"
        )
        self.currency = currency
        self.on_date = on_date


class NoReportingCurrency(ConfigError):
    """A conversion was asked for where the config names no reporting currency."""

    def __init__(self) -> None:
        super().__init__("assurance.reporting_currency is not set in the configuration")


@dataclass(frozen=True)
class _CurrencyRates:
    starts: list[date] = field(default_factory=list)  # ascending
    rates: list[Decimal] = field(default_factory=list)


@dataclass(frozen=True)
class ReportingRates:
    """The rates table, ready to convert; ``currency`` is None when none is configured."""

    currency: str | None
    _by_currency: dict[str, _CurrencyRates] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: AssuranceSettings) -> ReportingRates:
        """The table of the ``assurance:`` section."""
        return cls.of(settings.reporting_currency, settings.rates)

    @classmethod
    def of(cls, currency: str | None, rows: Iterable[RateSettings]) -> ReportingRates:
        """A table converting into ``currency`` from ``rows``."""
        by_currency: dict[str, _CurrencyRates] = {}
        for row in sorted(rows, key=lambda r: (r.currency, r.effective_from)):
            table = by_currency.setdefault(row.currency, _CurrencyRates())
            table.starts.append(row.effective_from)
            table.rates.append(row.rate)
        return cls(currency, by_currency)

    def rate(self, currency: str, on_date: date) -> Decimal:
        """Reporting-currency units per unit of ``currency`` on ``on_date``."""
        if self.currency is None:
            raise NoReportingCurrency
        if currency == self.currency:
            return Decimal(1)
        table = self._by_currency.get(currency)
        position = bisect.bisect_right(table.starts, on_date) if table else 0
        if table is None or position == 0:
            raise MissingRate(currency, on_date, self.currency)
        return table.rates[position - 1]

    def to_reporting(self, amount_minor: int, currency: str, on_date: date) -> int | None:
        """``amount_minor`` of ``currency`` in the reporting currency's minor units; None
        when the result is past what a 64-bit count of minor units holds.

        Rounded half to even once, on the converted amount (banker's rounding, as sums of
        many converted amounts then carry no bias).
        """
        rate = self.rate(currency, on_date)
        assert self.currency is not None  # rate() raised otherwise
        return to_minor(to_major(amount_minor, currency) * rate, self.currency)

    def to_reporting_or_none(
        self, amount_minor: int | None, currency: str | None, on_date: date
    ) -> int | None:
        """As :meth:`to_reporting`; None when there is no amount or no reporting currency.

        A missing rate still raises: only the absence of a reporting currency means "none".
        """
        if amount_minor is None or currency is None or self.currency is None:
            return None
        return self.to_reporting(amount_minor, currency, on_date)
