"""How the billing sandbox checks a request body: field kinds and ``check_fields``.

The collections' schemas are in :mod:`sandboxes.billing.collections`.
``check_fields`` raises ``ApiError`` (Stripe's error shape) on the first problem it finds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


class ApiError(Exception):
    """A request the API refuses, in Stripe's error shape."""

    def __init__(
        self, status: int, code: str, param: str, message: str, kind: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param
        self.message = message
        self.kind = kind


Exists = Callable[[str, str], bool]


@dataclass(frozen=True)
class Ref:
    """A billing id of a resource that must already exist in ``collection`` (``cus_...``)."""

    collection: str


@dataclass(frozen=True)
class OneOf:
    """A status-like field: one of a fixed set of values."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Nested:
    """A nested object, or a list of them (an order's lines), checked against ``schema``."""

    schema: Schema
    is_list: bool = False


Kind = str | Ref | OneOf | Nested  # a str names one of the scalar kinds below
Schema = Mapping[str, tuple[Kind, bool]]  # field -> (kind, required)

_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Like Stripe: one @, a dot in the domain, no spaces ("Invalid email address").
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _is_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and len(value) == 10 and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _is_decimal(value: Any) -> bool:
    # Money is never a float on the wire: JSON numbers are refused outright.
    return isinstance(value, str) and _DECIMAL.fullmatch(value) is not None


_SCALARS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "must be a string"),
    "bool": (lambda v: isinstance(v, bool), "must be true or false"),
    "currency": (
        lambda v: isinstance(v, str) and _CURRENCY.fullmatch(v) is not None,
        "must be a 3-letter uppercase ISO 4217 code",
    ),
    "decimal": (_is_decimal, 'must be a decimal string such as "1200.00", never a number'),
    "amount": (lambda v: _is_decimal(v) and Decimal(v) >= 0, "must be a decimal string >= 0"),
    "quantity": (lambda v: _is_decimal(v) and Decimal(v) > 0, "must be a decimal string > 0"),
    # A change of a quantity (an amendment's delta): signed, never zero.
    "quantity_change": (
        lambda v: _is_decimal(v) and Decimal(v) != 0,
        "must be a decimal string other than 0",
    ),
    "count": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "must be a whole number >= 0",
    ),
    "date": (_is_date, "must be a date as YYYY-MM-DD"),
    "email": (
        lambda v: isinstance(v, str) and _EMAIL.fullmatch(v) is not None,
        "must be an email address such as billing@example.com",
    ),
}


def _invalid(param: str, message: str) -> ApiError:
    return ApiError(400, "parameter_invalid", param, f"{param or 'body'} {message}")


def check_fields(body: Any, schema: Schema, exists: Exists, prefix: str = "") -> None:
    """Validate a request body like the billing API does; raise ApiError on the first problem."""
    if not isinstance(body, dict):
        raise _invalid(prefix, "must be an object")
    for name in body:
        if name not in schema:
            raise _invalid(f"{prefix}[{name}]" if prefix else name, "unknown parameter")
    for name, (kind, required) in schema.items():
        param = f"{prefix}[{name}]" if prefix else name
        value = body.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(400, "parameter_missing", param, f"{param} is required")
        else:
            _check_value(kind, value, param, exists)


def _check_value(kind: Kind, value: Any, param: str, exists: Exists) -> None:
    if isinstance(kind, Ref):
        if not isinstance(value, str) or not exists(kind.collection, value):
            message = f"no such {kind.collection[:-1]}: {value!r}"
            raise ApiError(400, "resource_missing", param, message)
    elif isinstance(kind, OneOf):
        if value not in kind.values:
            raise _invalid(param, f"must be one of {', '.join(kind.values)}")
    elif isinstance(kind, Nested):
        if not kind.is_list:
            check_fields(value, kind.schema, exists, param)
        elif not isinstance(value, list):
            raise _invalid(param, "must be a list")
        else:
            for index, item in enumerate(value):
                check_fields(item, kind.schema, exists, f"{param}[{index}]")
    elif not _SCALARS[kind][0](value):
        raise _invalid(param, _SCALARS[kind][1])
