"""What Stripe refuses in a parameter, checked before a record is sent.

A record whose own data Stripe cannot take goes to the error queue with the parameter and a
plain reason, and the rest of the batch goes on; nothing about it reaches Stripe. The limits are
Stripe's (spec3.json and its metadata documentation): at most 50 metadata keys, keys up to 40
characters without square brackets, values up to 500 characters; strings up to 5000 characters
unless the spec says less; amounts up to eight digits of minor units. Text must be encodable
(no lone surrogates) and free of control characters other than tab, line feed and carriage
return, which Stripe's dashboards and PDF invoices cannot show.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

METADATA_KEYS = 50
METADATA_KEY_CHARS = 40
METADATA_VALUE_CHARS = 500
STRING_CHARS = 5000
MAX_MINOR_AMOUNT = 99_999_999
_AMOUNTS = frozenset({"amount", "unit_amount"})
_ALLOWED_CONTROLS = frozenset("\t\n\r")
# Top-level parameters the spec limits below STRING_CHARS (or above it), per collection.
_MAX_CHARS: Mapping[str, Mapping[str, int]] = {
    "customers": {"name": 256, "email": 512, "phone": 20},
    "products": {"description": 40000, "unit_label": 12, "statement_descriptor": 22},
    "prices": {"lookup_key": 200},
}


@dataclass(frozen=True)
class LimitProblem:
    """One parameter Stripe would refuse, and why, in words an admin can act on."""

    param: str
    code: str
    message: str


def first_problem(collection: str, params: Mapping[str, Any]) -> LimitProblem | None:
    """The first parameter of ``params`` (in minor units) that Stripe would refuse."""
    limits = _MAX_CHARS.get(collection, {})
    for key in sorted(params):
        value = params[key]
        if key == "metadata" and isinstance(value, Mapping):
            problem = _metadata_problem(value, "metadata")
        else:
            problem = _value_problem(str(key), value, limits.get(str(key), STRING_CHARS))
        if problem is not None:
            return problem
    return None


def _value_problem(param: str, value: Any, max_chars: int = STRING_CHARS) -> LimitProblem | None:
    if isinstance(value, str):
        return text_problem(param, value, max_chars)
    if isinstance(value, Mapping):
        for key in sorted(value):
            name = f"{param}[{key}]"
            nested = value[key]
            if key == "metadata" and isinstance(nested, Mapping):
                found = _metadata_problem(nested, name)
            else:
                found = _value_problem(name, nested)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _value_problem(f"{param}[{index}]", item)
            if found is not None:
                return found
        return None
    return _amount_problem(param.rsplit("[", 1)[-1].rstrip("]"), param, value)


def _amount_problem(key: str, param: str, value: Any) -> LimitProblem | None:
    if isinstance(value, Decimal) and not value.is_finite():
        return LimitProblem(param, "parameter_invalid", f"{param} is {value}, not a number")
    is_integer = isinstance(value, int) and not isinstance(value, bool)
    if key in _AMOUNTS and is_integer and abs(value) > MAX_MINOR_AMOUNT:
        message = (
            f"{param} is {value} in the currency's minor unit; Stripe takes at most eight "
            f"digits ({MAX_MINOR_AMOUNT})"
        )
        return LimitProblem(param, "amount_too_large", message)
    return None


def _metadata_problem(metadata: Mapping[Any, Any], param: str) -> LimitProblem | None:
    if len(metadata) > METADATA_KEYS:
        message = f"{param} has {len(metadata)} keys; Stripe allows {METADATA_KEYS}"
        return LimitProblem(param, "metadata_invalid", message)
    for key in sorted(metadata, key=str):
        name = f"{param}[{key}]"
        text = str(key)
        if len(text) > METADATA_KEY_CHARS:
            message = (
                f"metadata key {text[:40]!r}... is {len(text)} characters; Stripe allows "
                f"{METADATA_KEY_CHARS}"
            )
            return LimitProblem(name, "metadata_invalid", message)
        if "[" in text or "]" in text:
            message = f"metadata key {text!r} contains a square bracket, which Stripe refuses"
            return LimitProblem(name, "metadata_invalid", message)
        found = text_problem(name, text, METADATA_KEY_CHARS)
        value = metadata[key]
        if found is None and value is not None:
            found = text_problem(name, str(value), METADATA_VALUE_CHARS, metadata=True)
        if found is not None:
            return found
    return None


def text_problem(
    param: str, text: str, max_chars: int = STRING_CHARS, *, metadata: bool = False
) -> LimitProblem | None:
    """Why Stripe can't take ``text`` as ``param``: a surrogate, a control character, length."""
    for position, char in enumerate(text, start=1):
        if "\ud800" <= char <= "\udfff":
            message = (
                f"{param} contains an unpaired surrogate U+{ord(char):04X} at position "
                f"{position}; it cannot be encoded"
            )
            return LimitProblem(param, "parameter_invalid", message)
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            message = f"{param} contains control character U+{ord(char):04X} at position {position}"
            return LimitProblem(param, "parameter_invalid", message)
    if len(text) > max_chars:
        message = f"{param} is {len(text)} characters; Stripe allows {max_chars}"
        if metadata:
            return LimitProblem(param, "metadata_invalid", f"{message} for metadata values")
        return LimitProblem(param, "value_too_long", message)
    return None
