"""Stripe's wire format: form-encoded nested parameters, and money in minor currency units.

``metadata[revbridge_id]=acc-1`` and ``items[0][price_data][unit_amount]=1200`` are how Stripe
spells nested objects and lists in an ``application/x-www-form-urlencoded`` body. Amounts go out
as integers of the currency's minor unit (cents for USD, yen for JPY, fils for KWD, per ISO 4217)
and come back to ``Decimal`` exactly; money is never a float on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from mappings.currencies import minor_units

# Amount fields Stripe reads as integers of minor units when revbridge writes them.
WRITE_MONEY_FIELDS = frozenset({"amount", "unit_amount"})
# Amount fields of the objects revbridge reads (invoices, lines, charges, credit notes).
READ_MONEY_FIELDS = frozenset(
    {
        "amount",
        "amount_captured",
        "amount_due",
        "amount_paid",
        "amount_refunded",
        "amount_remaining",
        "discount_amount",
        "subtotal",
        "subtotal_excluding_tax",
        "tax",
        "total",
        "total_excluding_tax",
        "unit_amount",
    }
)


class MoneyError(ValueError):
    """An amount that cannot be sent exactly: unknown currency, or finer than its minor unit."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


def _scale(currency: Any, param: str) -> int:
    if not isinstance(currency, str):
        raise MoneyError(param, "an amount needs a currency beside it or in an enclosing object")
    try:
        return minor_units(currency.upper())
    except ValueError as error:
        raise MoneyError(param, str(error)) from None


def to_minor_units(payload: Any, currency: str | None = None, param: str = "") -> Any:
    """A copy with Decimal amounts as integer minor units and currencies in lower case."""
    if isinstance(payload, Mapping):
        here = payload.get("currency", currency)
        out: dict[str, Any] = {}
        for key, value in payload.items():
            name = f"{param}[{key}]" if param else str(key)
            if key in WRITE_MONEY_FIELDS and isinstance(value, Decimal):
                out.update(_amount_params(str(key), value, _scale(here, name), name))
            elif key == "currency" and isinstance(value, str):
                out[key] = value.lower()
            else:
                out[key] = to_minor_units(value, here, name)
        return out
    if isinstance(payload, list | tuple):
        return [to_minor_units(item, currency, f"{param}[{i}]") for i, item in enumerate(payload)]
    return payload


def _amount_params(key: str, amount: Decimal, scale: int, param: str) -> dict[str, Any]:
    if not amount.is_finite():
        raise MoneyError(param, f"{amount} is not an amount")
    minor = amount.scaleb(scale)
    if minor == minor.to_integral_value():
        return {key: int(minor)}
    if key == "unit_amount":
        # Stripe takes fractional unit prices (up to 12 decimals) as unit_amount_decimal.
        return {"unit_amount_decimal": format(minor.normalize(), "f")}
    raise MoneyError(param, f"{amount} has more decimals than the currency's {scale}")


def _is_minor_amount(key: str, value: Any) -> bool:
    if key == "unit_amount_decimal":
        return isinstance(value, str)
    return key in READ_MONEY_FIELDS and isinstance(value, int) and not isinstance(value, bool)


def from_minor_units(record: Any, currency: str | None = None) -> Any:
    """A copy of a Stripe object with its amounts as Decimal in major units (exact)."""
    if isinstance(record, Mapping):
        here = record.get("currency") or currency
        out: dict[str, Any] = {}
        for key, value in record.items():
            if _is_minor_amount(str(key), value):
                out[key] = Decimal(value).scaleb(-_scale(here, str(key)))
            else:
                out[key] = from_minor_units(value, here)
        return out
    if isinstance(record, list):
        return [from_minor_units(item, currency) for item in record]
    return record


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(int(stamp.timestamp()))
    if isinstance(value, date):
        # Stripe timestamps are Unix seconds; a date means its midnight UTC.
        return str(int(datetime.combine(value, time(), tzinfo=UTC).timestamp()))
    return str(value)


def form_pairs(payload: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts and lists into Stripe's bracketed names, keys sorted, None left out."""
    pairs: list[tuple[str, str]] = []
    for key in sorted(payload):
        value = payload[key]
        name = f"{prefix}[{key}]" if prefix else str(key)
        pairs.extend(_pairs_of(name, value))
    return pairs


def _pairs_of(name: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return form_pairs(value, name)
    if isinstance(value, list | tuple):
        pairs: list[tuple[str, str]] = []
        for index, item in enumerate(value):
            pairs.extend(_pairs_of(f"{name}[{index}]", item))
        return pairs
    return [(name, _scalar(value))]


def form_body(payload: Mapping[str, Any]) -> bytes:
    """The form-encoded body of ``payload`` (already in minor units)."""
    return urlencode(form_pairs(payload)).encode()


def whole_number(raw: Any, most: int = 1_000_000_000) -> int | None:
    """``raw`` (a number or its text) as an int when it is whole and at most ``most`` either
    side of 0, else None: Stripe's quantities are integers."""
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        return None
    if not value.is_finite() or value != value.to_integral_value() or abs(value) > most:
        return None
    return int(value)
