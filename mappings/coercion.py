"""Value types a rule can coerce to, with the text formats they accept: one registry.

Inbound converters turn a system's value into the canonical Python value; outbound converters
turn a canonical value (``model_dump(mode="json")``) into what goes on a JSON or SOAP wire,
where amounts travel as decimal strings and dates as ISO text unless a ``format`` says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from mappings.currencies import minor_units

Converter = Callable[[Any], Any]


class FieldType(StrEnum):
    """How a value is converted on its way through a rule."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    MONEY = "money"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"


@dataclass(frozen=True)
class NumberStyle:
    """How numbers are written as text: decimal mark and thousands separator."""

    decimal: str = "."
    thousands: str = ""


def unchanged(value: Any) -> Any:
    """The value as it is: no ``type`` to convert to."""
    return value


def to_string(value: Any) -> str:
    """Text of a value; booleans as ``true``/``false`` like JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_decimal(value: Any) -> Decimal:
    """An exact Decimal from a number or numeric text."""
    if type(value) is str:  # the common case first: amounts travel as text
        try:
            number = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return number
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, float):
        # repr is the shortest string that round-trips, so 1200.1 stays 1200.1, not 1200.09...
        return Decimal(repr(value))
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def to_integer(value: Any) -> int:
    """A whole number; 3.0 is fine, 3.5 is an error."""
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def to_boolean(value: Any) -> bool:
    """A boolean from a boolean, 0/1 or yes/no/true/false text."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise ValueError(f"{value!r} is not a boolean")


def to_date(value: Any) -> date:
    """A date from a date, a datetime or ISO 8601 text."""
    if type(value) is str:
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def to_datetime(value: Any) -> datetime:
    """An aware datetime from ISO 8601 text, Salesforce's ``...000+0000`` included."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed


def to_money(amount: Any, currency: Any) -> Decimal:
    """``amount`` at ``currency``'s minor units (USD 2, JPY 0); never rounds silently."""
    number = to_decimal(amount)
    code = str(currency).upper() if currency is not None else ""
    try:
        places = minor_units(code)
    except ValueError:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code") from None
    try:
        quantized = number.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than decimal arithmetic's 28 once quantized
        digits = len(number.as_tuple().digits)
        raise ValueError(f"an amount of {digits} digits is too large to be money") from None
    if quantized != number:
        raise ValueError(f"{amount!r} has more decimal places than {code} allows ({places})")
    return quantized


# Characters XML 1.0 can't hold, not even escaped: C0 controls but tab, newline and carriage
# return, lone surrogates, U+FFFE and U+FFFF. Every system revbridge writes chokes on them (lxml
# refuses a NetSuite request, PostgreSQL a JSON value with U+0000, UTF-8 a lone surrogate), so
# mapping rules reject or strip them (connectors.wire_values.XML_ILLEGAL is the same class).
ILLEGAL_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SHOWN = 3  # characters named in a message; the rest are counted


def _character_name(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        kind = "lone surrogate"
    elif code in (0xFFFE, 0xFFFF):
        kind = "noncharacter"
    else:
        kind = "control character"
    return f"{kind} U+{code:04X}"


def illegal_text_problem(text: str) -> str | None:
    """``contains control character U+001B at position 8`` (1-based), or None when clean."""
    if ILLEGAL_TEXT.search(text) is None:
        return None
    found = [(match.start(), match.group()) for match in ILLEGAL_TEXT.finditer(text)]
    shown = [f"{_character_name(char)} at position {at + 1}" for at, char in found[:_SHOWN]]
    more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    return "contains " + ", ".join(shown) + more


def strip_illegal_text(text: str) -> str:
    """``text`` without the characters XML 1.0 can't hold."""
    return ILLEGAL_TEXT.sub("", text)


def _parse_number(style: NumberStyle, convert: Converter) -> Converter:
    def parse(value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().replace(style.thousands or "\0", "")
            value = value.replace(style.decimal, ".")
        return convert(value)

    return parse


def _write_number(style: NumberStyle) -> Converter:
    swap = str.maketrans({",": style.thousands, ".": style.decimal})
    grouping = "," if style.thousands else ""

    def write(value: Any) -> str:
        return format(to_decimal(value), f"{grouping}f").translate(swap)

    return write


def _parse_date(pattern: str, want_datetime: bool) -> Converter:
    def parse(value: Any) -> Any:
        if isinstance(value, date):
            return value if want_datetime else to_date(value)
        parsed = datetime.strptime(str(value).strip(), pattern)
        return to_datetime(parsed) if want_datetime else parsed.date()

    return parse


_INBOUND: dict[FieldType, Converter] = {
    FieldType.STRING: to_string,
    FieldType.INTEGER: to_integer,
    FieldType.DECIMAL: to_decimal,
    FieldType.MONEY: to_decimal,
    FieldType.BOOLEAN: to_boolean,
    FieldType.DATE: to_date,
    FieldType.DATETIME: to_datetime,
    FieldType.ENUM: to_string,
}


def decimal_text(value: Any) -> str:
    """An amount as the decimal text a wire carries."""
    return str(to_decimal(value))


def date_text(value: Any) -> str:
    """A date as ISO 8601 text."""
    return to_date(value).isoformat()


def datetime_text(value: Any) -> str:
    """An aware datetime as ISO 8601 text."""
    return to_datetime(value).isoformat()


# Named functions, not lambdas: mappings.codegen recognises them to write their work inline.
_OUTBOUND: dict[FieldType, Converter] = {
    FieldType.STRING: to_string,
    FieldType.INTEGER: to_integer,
    FieldType.DECIMAL: decimal_text,
    FieldType.MONEY: decimal_text,
    FieldType.BOOLEAN: to_boolean,
    FieldType.DATE: date_text,
    FieldType.DATETIME: datetime_text,
    FieldType.ENUM: to_string,
}

NUMBER_TYPES = frozenset({FieldType.INTEGER, FieldType.DECIMAL, FieldType.MONEY})
DATE_TYPES = frozenset({FieldType.DATE, FieldType.DATETIME})


def inbound_converter(field_type: FieldType | None, fmt: str | NumberStyle | None) -> Converter:
    """System value -> canonical value, reading text in ``fmt`` when one is given."""
    if field_type is None:
        return unchanged
    convert = _INBOUND[field_type]
    if isinstance(fmt, NumberStyle):
        return _parse_number(fmt, convert)
    if isinstance(fmt, str):
        return _parse_date(fmt, field_type is FieldType.DATETIME)
    return convert


def outbound_converter(field_type: FieldType | None, fmt: str | NumberStyle | None) -> Converter:
    """Canonical value -> wire value, written in ``fmt`` when one is given."""
    if field_type is None:
        return unchanged
    if isinstance(fmt, NumberStyle):
        return _write_number(fmt)
    if isinstance(fmt, str):
        return DateWriter(fmt, field_type is FieldType.DATETIME)
    return _OUTBOUND[field_type]


@dataclass(frozen=True)
class DateWriter:
    """Writes a date (or an aware datetime) in a strftime ``pattern``."""

    pattern: str
    with_time: bool

    def __call__(self, value: Any) -> str:
        """The value parsed as a date (or datetime), written in the pattern."""
        parsed = to_datetime(value) if self.with_time else to_date(value)
        return parsed.strftime(self.pattern)


_DIRECTIVES = set("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")
_DATE_PART = set("dmyYbBjxGVuU")


def date_format_problem(field_type: FieldType, pattern: str) -> str | None:
    """Why ``pattern`` can't read ``field_type`` values, or None when it can."""
    directives = re.findall(r"%(.?)", pattern)
    bad = [d for d in directives if d not in _DIRECTIVES]
    if bad:
        return f"invalid format {pattern!r}: unknown directive %{bad[0]}"
    if not set(directives) & _DATE_PART:
        return f"invalid format {pattern!r}: it has no day, month or year (%d, %m, %Y)"
    if field_type is FieldType.DATETIME and "z" not in directives:
        return f"invalid format {pattern!r}: a datetime format needs %z for its time zone"
    return None
