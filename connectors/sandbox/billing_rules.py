"""What the billing sandbox accepts: the collections' field schemas and the request-body checks.

``check_fields`` raises ``ApiError`` (Stripe's error shape) on the first problem it finds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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
Schema = Mapping[str, tuple[str, bool]]  # field -> (kind, required)

_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ORDER_STATUSES = ("draft", "active", "cancelled")


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
    "quantity": (lambda v: _is_decimal(v) and Decimal(v) > 0, "must be a decimal string > 0"),
    "date": (_is_date, "must be a date as YYYY-MM-DD"),
    "status": (lambda v: v in _ORDER_STATUSES, f"must be one of {', '.join(_ORDER_STATUSES)}"),
}
_REFERENCES = {"customer_id": "customers", "product_id": "products"}
_ADDRESS: Schema = dict.fromkeys(
    ("line1", "city", "state", "postal_code", "country"), ("string", False)
)
_ORDER_LINE: Schema = {
    "product": ("product_id", True),
    "quantity": ("quantity", False),
    "unit_amount": ("decimal", False),
    "amount": ("decimal", False),
    "start_date": ("date", False),
    "end_date": ("date", False),
}
_NESTED: dict[str, tuple[Schema, bool]] = {
    "address": (_ADDRESS, False),
    "lines": (_ORDER_LINE, True),
}
SCHEMAS: Mapping[str, Schema] = {
    "customers": {
        "external_id": ("string", False),
        "name": ("string", True),
        "currency": ("currency", True),
        "email": ("string", False),
        "phone": ("string", False),
        "address": ("address", False),
    },
    "products": {
        "external_id": ("string", False),
        "name": ("string", True),
        "sku": ("string", True),
        "description": ("string", False),
        "active": ("bool", False),
    },
    "orders": {
        "external_id": ("string", False),
        "customer": ("customer_id", True),
        "number": ("string", False),
        "status": ("status", False),
        "currency": ("currency", True),
        "effective_date": ("date", True),
        "end_date": ("date", False),
        "total": ("decimal", True),
        "lines": ("lines", False),
    },
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


def _check_value(kind: str, value: Any, param: str, exists: Exists) -> None:
    if kind in _REFERENCES:
        collection = _REFERENCES[kind]
        if not isinstance(value, str) or not exists(collection, value):
            raise ApiError(400, "resource_missing", param, f"no such {collection[:-1]}: {value!r}")
    elif kind in _NESTED:
        schema, is_list = _NESTED[kind]
        if not is_list:
            check_fields(value, schema, exists, param)
        elif not isinstance(value, list):
            raise _invalid(param, "must be a list")
        else:
            for index, item in enumerate(value):
                check_fields(item, schema, exists, f"{param}[{index}]")
    elif not _SCALARS[kind][0](value):
        raise _invalid(param, _SCALARS[kind][1])
