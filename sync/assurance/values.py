"""How a value revbridge wrote is compared with the value a system holds now, and money.

Systems echo values back in their own spelling: ``"54000.0"`` may come back as ``54000``, a
date as ``2025-05-04T00:00:00``. Those are the same value; a changed amount or name is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from mappings.currencies import minor_units

_MIDNIGHT_SUFFIXES = ("T00:00:00", "T00:00:00Z", "T00:00:00+00:00", "T00:00:00.000Z")


def as_decimal(value: Any) -> Decimal | None:
    """``value`` as a finite Decimal when it is a number or numeric text, else None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _as_date_text(value: str) -> str:
    for suffix in _MIDNIGHT_SUFFIXES:
        if len(value) == 10 + len(suffix) and value.endswith(suffix):
            return value[:10]
    return value


def _empty(value: Any) -> bool:
    """Nothing written: None, "", or containers holding only that (a conditional block whose
    condition was false), which a system shows as absent."""
    if value is None or value == "":
        return True
    if isinstance(value, Mapping):
        return all(_empty(item) for item in value.values())
    if isinstance(value, list):
        return all(_empty(item) for item in value)
    return False


def _custom_field(current: Mapping[str, Any], script_id: str) -> Any:
    """A NetSuite custom field's value: written as ``custcol_x: v``, read back inside
    ``customFieldList.customField`` as ``{scriptId: custcol_x, value: v}``."""
    listed = (current.get("customFieldList") or {}).get("customField") or []
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, Mapping) and entry.get("scriptId") == script_id:
            return entry.get("value")
    return None


def _same_object(written: Mapping[str, Any], current: Any) -> bool:
    if not isinstance(current, Mapping):
        return False
    return all(
        same_value(
            value,
            current.get(key) if key in current else _custom_field(current, key),
        )
        for key, value in written.items()
    )


def _same_list(written: Sequence[Any], current: Any) -> bool:
    if not isinstance(current, Sequence) or isinstance(current, str):
        return False
    if len(written) != len(current):
        return False
    return all(same_value(w, c) for w, c in zip(written, current, strict=True))


def _same_flag(written: bool, current: Any) -> bool:
    # SOAP answers spell booleans "true"/"false"; 1 is not True here.
    if isinstance(current, str):
        return current.strip().lower() == str(written).lower()
    return isinstance(current, bool) and current is written


def _same_scalar(written: Any, current: Any) -> bool:
    if isinstance(written, bool) or isinstance(current, bool):
        flag, other = (written, current) if isinstance(written, bool) else (current, written)
        return _same_flag(flag, other)
    if written == current or (written in (None, "") and current in (None, "")):
        return True
    numbers = as_decimal(written), as_decimal(current)
    if numbers[0] is not None and numbers[1] is not None:
        return numbers[0] == numbers[1]
    if isinstance(written, str) and isinstance(current, str):
        return _as_date_text(written) == _as_date_text(current)
    return False


def same_value(written: Any, current: Any) -> bool:
    """True when ``current`` is what ``written`` became in the system, spelling aside.

    Only the keys revbridge wrote are compared inside objects: a system adds its own (ids,
    timestamps), which are not drift. Nothing written is the same as nothing shown.
    """
    if current is None and _empty(written):
        return True
    if isinstance(written, Mapping):
        return _same_object(written, current)
    if isinstance(written, Sequence) and not isinstance(written, str):
        return _same_list(written, current)
    return _same_scalar(written, current)


def _places(currency: str) -> int:
    try:
        return minor_units(currency)
    except ValueError:
        return 2  # an unknown code is reported by the mappings; cents are the common case


def to_major(minor: int, currency: str) -> Decimal:
    """``minor`` units (cents) of ``currency`` as the amount people read (dollars)."""
    return Decimal(minor).scaleb(-_places(currency))


# Minor units are stored as 64-bit integers (BIGINT on both databases).
_LARGEST_MINOR = 2**63 - 1


def to_minor(amount: Any, currency: str) -> int | None:
    """``amount`` in ``currency``'s minor units (cents), or None when it is no number, or one
    too large to be money (past a 64-bit count of minor units)."""
    number = as_decimal(amount)
    if number is None:
        return None
    try:
        minor = int(
            (number * (10 ** _places(currency))).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        )
    except InvalidOperation:  # more digits than the decimal context holds
        return None
    return minor if abs(minor) <= _LARGEST_MINOR else None
