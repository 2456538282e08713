"""The ``assurance:`` section: the reporting currency and its date-effective rates table.

A rate says what one unit of ``currency`` is worth in the reporting currency from its ``from``
date on, until the next row of the same currency takes over. The table is typed in by people
(from their treasury's month-end rates); revbridge never fetches rates over the network.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_CURRENCY = r"^[A-Z]{3}$"
DEFAULT_UNBILLED_DAYS = 7


class RateSettings(BaseModel):
    """One row: ``rate`` reporting-currency units per unit of ``currency``, from ``from``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    currency: str = Field(pattern=_CURRENCY, description="ISO 4217 code, e.g. USD.")
    # Written as text ("0.92") so no binary float rounds it; YAML numbers are taken too.
    rate: Decimal = Field(gt=0, max_digits=24, decimal_places=12, allow_inf_nan=False)
    effective_from: date = Field(alias="from", description="First day the rate applies.")


class AssuranceSettings(BaseModel):
    """Reconciliation and revenue metrics: the reporting currency, rates, unbilled grace."""

    model_config = ConfigDict(extra="forbid")

    reporting_currency: str | None = Field(
        default=None,
        pattern=_CURRENCY,
        description="Amounts at risk and metrics are also shown in this currency; unset: "
        "each record's own currency only.",
    )
    rates: list[RateSettings] = Field(default_factory=list, max_length=10_000)
    unbilled_days: int = Field(
        default=DEFAULT_UNBILLED_DAYS,
        ge=0,
        le=3650,
        description="Days an activated order may go without an invoice before it is unbilled.",
    )

    @model_validator(mode="after")
    def _one_rate_per_currency_and_day(self) -> AssuranceSettings:
        # Two rows for one currency and day would make the converter pick one silently.
        seen: set[tuple[str, date]] = set()
        for row in self.rates:
            key = (row.currency, row.effective_from)
            if key in seen:
                raise ValueError(
                    f"two rates for {row.currency} from {row.effective_from.isoformat()}"
                )
            seen.add(key)
        if self.rates and self.reporting_currency is None:
            raise ValueError("rates need reporting_currency (the currency they convert into)")
        return self
