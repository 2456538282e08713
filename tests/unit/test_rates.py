"""The reporting currency's rates table: config validation with file:line, and conversion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.assurance import AssuranceSettings, RateSettings
from config.loader import ConfigInvalid, load_settings
from sync.assurance.rates import MissingRate, NoReportingCurrency, ReportingRates
from tests.unit.test_config_loader import MINIMAL, SECRETS

RATES = """\
assurance:
  reporting_currency: EUR
  rates:
    - {currency: USD, rate: "0.92", from: 2026-01-01}
    - {currency: USD, rate: "0.90", from: 2026-07-01}
    - {currency: JPY, rate: "0.0061", from: 2026-01-01}
    - {currency: KWD, rate: "3.01", from: 2026-01-01}
"""


def _table() -> ReportingRates:
    settings = AssuranceSettings.model_validate(
        {
            "reporting_currency": "EUR",
            "rates": [
                {"currency": "USD", "rate": "0.92", "from": "2026-01-01"},
                {"currency": "USD", "rate": "0.90", "from": "2026-07-01"},
                {"currency": "JPY", "rate": "0.0061", "from": "2026-01-01"},
                {"currency": "KWD", "rate": "3.01", "from": "2026-01-01"},
            ],
        }
    )
    return ReportingRates.from_settings(settings)


def test_the_rates_table_loads_from_the_yaml_config(tmp_path: Path) -> None:
    path = tmp_path / "revbridge.yaml"
    path.write_text(MINIMAL + RATES, encoding="utf-8")
    settings = load_settings(path, SECRETS)
    assert settings.assurance.reporting_currency == "EUR"
    assert [(r.currency, r.rate) for r in settings.assurance.rates][:2] == [
        ("USD", Decimal("0.92")),
        ("USD", Decimal("0.90")),
    ]


def test_a_rate_applies_from_its_date_until_the_next_row() -> None:
    rates = _table()
    # $100.00 = 10,000 cents; 10,000 x 0.92 = 9,200 euro cents before July, x 0.90 after.
    assert rates.to_reporting(10_000, "USD", date(2026, 1, 1)) == 9_200
    assert rates.to_reporting(10_000, "USD", date(2026, 6, 30)) == 9_200
    assert rates.to_reporting(10_000, "USD", date(2026, 7, 1)) == 9_000
    assert rates.to_reporting(10_000, "USD", date(2027, 3, 1)) == 9_000


def test_minor_units_follow_each_currency() -> None:
    rates = _table()
    # 1,000,000 yen (no minor unit) x 0.0061 = 6,100.00 EUR = 610,000 cents.
    assert rates.to_reporting(1_000_000, "JPY", date(2026, 2, 1)) == 610_000
    # 1.000 KWD = 1,000 fils (three places) x 3.01 = 3.01 EUR = 301 cents.
    assert rates.to_reporting(1_000, "KWD", date(2026, 2, 1)) == 301


def test_rounding_is_half_to_even_once_on_the_converted_amount() -> None:
    rates = _table()
    # 0.25 USD x 0.90 = 0.225 EUR -> 22 cents (half to even); 0.35 x 0.90 = 0.315 -> 32.
    assert rates.to_reporting(25, "USD", date(2026, 8, 1)) == 22
    assert rates.to_reporting(35, "USD", date(2026, 8, 1)) == 32


def test_the_reporting_currency_itself_needs_no_rate() -> None:
    assert _table().to_reporting(12_345, "EUR", date(1999, 1, 1)) == 12_345


@pytest.mark.parametrize(
    ("currency", "on_date"),
    [("GBP", date(2026, 5, 1)), ("USD", date(2025, 12, 31))],
)
def test_a_missing_rate_names_the_currency_and_date_never_a_zero(
    currency: str, on_date: date
) -> None:
    with pytest.raises(MissingRate) as caught:
        _table().to_reporting(100, currency, on_date)
    message = str(caught.value)
    assert currency in message
    assert on_date.isoformat() in message
    assert "assurance.rates" in message
    assert (caught.value.currency, caught.value.on_date) == (currency, on_date)


def test_without_a_reporting_currency_there_is_nothing_to_convert_into() -> None:
    rates = ReportingRates.from_settings(AssuranceSettings())
    assert rates.to_reporting_or_none(100, "USD", date(2026, 1, 1)) is None
    with pytest.raises(NoReportingCurrency):
        rates.to_reporting(100, "USD", date(2026, 1, 1))


def test_or_none_still_raises_for_a_missing_rate() -> None:
    assert _table().to_reporting_or_none(None, "USD", date(2026, 1, 1)) is None
    with pytest.raises(MissingRate):
        _table().to_reporting_or_none(100, "CHF", date(2026, 1, 1))


def _rate(**row: str) -> dict[str, object]:
    return {
        "reporting_currency": "EUR",
        "rates": [{"currency": "USD", "from": "2026-01-01", **row}],
    }


@pytest.mark.parametrize(
    "section",
    [
        {"reporting_currency": "eur"},  # not an ISO code
        _rate(rate="0"),
        _rate(rate="-1"),
        _rate(rate="NaN"),
        _rate(rate="abc"),
        _rate(rate="1e400"),
        _rate(rate="1", form="2026-01-01"),  # a typo'd key, beside the real one
        _rate(rate="1", **{"from": "2026-02-30"}),
        _rate(rate="1", currency="US\u202eD"),
        _rate(rate="1", currency="<b>X</b>"),
        {"rates": [{"currency": "USD", "rate": "1", "from": "2026-01-01"}]},  # into what?
        {"reporting_currency": "EUR", "rates": [
            {"currency": "USD", "rate": "1", "from": "2026-01-01"},
            {"currency": "USD", "rate": "2", "from": "2026-01-01"},
        ]},
        {"unbilled_days": -1},
    ],
)  # fmt: skip
def test_a_wrong_rates_section_is_refused(section: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AssuranceSettings.model_validate(section)


def test_a_typo_in_the_rates_table_names_file_and_line(tmp_path: Path) -> None:
    typo = RATES.replace('rate: "0.90", from', 'rate: "0.90", form')
    path = tmp_path / "revbridge.yaml"
    path.write_text(MINIMAL + typo, encoding="utf-8")
    with pytest.raises(ConfigInvalid) as caught:
        load_settings(path, SECRETS)
    line = MINIMAL.count("\n") + 5  # the USD row from July, fifth line of the section
    wheres = [problem.where for problem in caught.value.problems]
    assert wheres, "the typo is reported"
    assert all(where.startswith(f"{path}:{line}:") for where in wheres), wheres
    assert any("form" in str(problem) for problem in caught.value.problems)


def test_a_conversion_past_64_bits_of_minor_units_is_none_not_a_crash() -> None:
    rates = ReportingRates.of(
        "JPY",
        [RateSettings.model_validate({"currency": "USD", "rate": "150", "from": "2026-01-01"})],
    )
    # 2^63 - 1 cents x 150 yen per dollar: 1.38e19 yen, past 2^63 - 1.
    assert rates.to_reporting(2**63 - 1, "USD", date(2026, 1, 2)) is None
    assert rates.to_reporting(100, "USD", date(2026, 1, 2)) == 150
