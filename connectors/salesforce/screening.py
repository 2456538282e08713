"""Values Salesforce can't take, found per record before any call carries them.

One record's NaN would make the whole Composite request unencodable (requests refuses NaN in
JSON), a lone surrogate can't be sent as UTF-8, and a number or date outside what a field
holds fails in Salesforce with a less helpful message. Such a record is answered as rejected
here, naming the field, and the other records of the call go on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import WriteOutcome, WriteResult
from connectors.salesforce.describe import FieldInfo, ObjectInfo
from connectors.wire_values import json_payload_problem

# Salesforce's date fields hold 1700-01-01 to 4000-12-31.
EARLIEST_DATE = dt.date(1700, 1, 1)
LATEST_DATE = dt.date(4000, 12, 31)
_DATE_TYPES = frozenset({"date", "datetime"})
_NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
INVALID_VALUE = "INVALID_PAYLOAD"


def screen(
    info: ObjectInfo, payloads: Sequence[Mapping[str, Any]], key: str
) -> list[WriteResult | None]:
    """A rejection for each payload Salesforce can't take, None for the others, in order."""
    return [_screened(info, payload, key) for payload in payloads]


def _screened(info: ObjectInfo, payload: Mapping[str, Any], key: str) -> WriteResult | None:
    found = json_payload_problem(payload) or _field_problem(info, payload)
    if found is None:
        return None
    field, problem = found
    return WriteResult(
        str(payload.get(key, "")),
        WriteOutcome.REJECTED,
        error_code=INVALID_VALUE,
        error_message=f"{field} {problem}",
        error_fields=(field,),
    )


def _field_problem(info: ObjectInfo, payload: Mapping[str, Any]) -> tuple[str, str] | None:
    for name, value in payload.items():
        field = info.field(name)
        problem = None if field is None else value_problem(field, value)
        if problem is not None:
            return name, problem
    return None


def value_problem(field: FieldInfo, value: Any) -> str | None:
    """Why ``field`` can't hold ``value`` (a date out of range, too many digits), or None."""
    if value is None or isinstance(value, bool | Mapping | list):
        return None
    if field.type in _DATE_TYPES:
        return _date_problem(value)
    if field.type in _NUMBER_TYPES and field.precision:
        return _number_problem(field, value)
    return None


def _date_problem(value: Any) -> str | None:
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    try:
        day = dt.date.fromisoformat(text[:10])
    except ValueError:
        return f"is not a date (YYYY-MM-DD): {_shown(value)}"
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        return f"{day.isoformat()} is outside Salesforce's dates ({EARLIEST_DATE} to {LATEST_DATE})"
    return None


def _number_problem(field: FieldInfo, value: Any) -> str | None:
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        return f"is not a number: {_shown(value)}"
    if not number.is_finite():
        return f"is {number}; Salesforce numbers are finite"
    whole_digits = max(number.adjusted() + 1, 0)
    allowed = field.precision - field.scale
    if whole_digits > allowed:
        return (
            f"{_shown(value)} has {whole_digits} digits before the decimal point; "
            f"{field.name} holds {allowed} (precision {field.precision}, scale {field.scale})"
        )
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
