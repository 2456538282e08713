"""The Stripe-compatible sandbox's objects: which parameters each accepts and how they are built.

A compact, revbridge-owned subset of Stripe's API (the real OpenAPI spec is only for tests):
customers, products, prices, subscriptions (with items), invoice items, and read-only invoices,
charges, payment intents, credit notes and events that tests create through the sandbox's
Python helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandboxes.billing.rules import ApiError

Exists = Callable[[str, str], bool]

PREFIXES = {
    "customers": "cus",
    "products": "prod",
    "prices": "price",
    "subscriptions": "sub",
    "invoiceitems": "ii",
    "invoices": "in",
    "charges": "ch",
    "credit_notes": "cn",
    "payment_intents": "pi",
    "events": "evt",
    "refunds": "re",
    "subscription_items": "si",
    "invoice_lines": "il",
}
OBJECT_NAMES = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "subscriptions": "subscription",
    "invoiceitems": "invoiceitem",
    "invoices": "invoice",
    "charges": "charge",
    "credit_notes": "credit_note",
    "payment_intents": "payment_intent",
    "events": "event",
}
# Parameters accepted on create and on update (POST /v1/{collection}/{id}).
CREATE_PARAMS: Mapping[str, frozenset[str]] = {
    "customers": frozenset(
        {"address", "description", "email", "metadata", "name", "phone", "preferred_locales"}
    ),
    "products": frozenset({"active", "description", "metadata", "name", "unit_label", "url"}),
    "prices": frozenset(
        {
            "active",
            "currency",
            "metadata",
            "nickname",
            "product",
            "recurring",
            "unit_amount",
            "unit_amount_decimal",
        }
    ),
    "subscriptions": frozenset(
        {
            "backdate_start_date",
            "billing_cycle_anchor",
            "cancel_at",
            "collection_method",
            "customer",
            "days_until_due",
            "items",
            "metadata",
            "payment_behavior",
            "proration_behavior",
        }
    ),
    "invoiceitems": frozenset(
        {"amount", "currency", "customer", "description", "metadata", "price_data", "quantity"}
    ),
}
UPDATE_PARAMS: Mapping[str, frozenset[str]] = {
    "customers": CREATE_PARAMS["customers"],
    "products": CREATE_PARAMS["products"],
    "prices": frozenset({"active", "metadata", "nickname"}),
    "subscriptions": frozenset(
        {
            "cancel_at",
            "collection_method",
            "days_until_due",
            "items",
            "metadata",
            "payment_behavior",
            "proration_behavior",
            "proration_date",
        }
    ),
    "invoiceitems": frozenset({"amount", "description", "metadata", "price_data", "quantity"}),
}
_REQUIRED = {
    "prices": ("currency", "product"),
    "subscriptions": ("customer", "items"),
    "invoiceitems": ("customer", "currency"),
}


# Stripe's limits (spec3.json maxLength; metadata: 50 keys, keys of 40 and values of 500 chars).
_MAX_CHARS = {"customers": {"name": 256, "email": 512, "phone": 20}}
_STRING_CHARS = 5000
_METADATA_KEYS = 50
_METADATA_KEY_CHARS = 40
_METADATA_VALUE_CHARS = 500


def check_params(collection: str, params: Mapping[str, Any], *, update: bool) -> None:
    """Refuse unknown parameters, missing required ones and too long text, like Stripe."""
    allowed = (UPDATE_PARAMS if update else CREATE_PARAMS)[collection]
    for name in params:
        if name not in allowed and name != "expand":
            raise ApiError(400, "parameter_unknown", name, f"Received unknown parameter: {name}")
    if not update:
        for name in _REQUIRED.get(collection, ()):
            if params.get(name) in (None, ""):
                raise ApiError(400, "parameter_missing", name, f"Missing required param: {name}.")
    limits = _MAX_CHARS.get(collection, {})
    for name, value in params.items():
        most = limits.get(name, _STRING_CHARS)
        if isinstance(value, str) and len(value) > most:
            message = f"Invalid string: {value[:20]}...; must be at most {most} characters"
            raise ApiError(400, "string_length_exceeds_maximum", name, message)
    check_metadata(params.get("metadata"), "metadata")


def check_metadata(metadata: Any, param: str) -> None:
    """Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500."""
    if not isinstance(metadata, dict):
        return
    if len(metadata) > _METADATA_KEYS:
        message = f"Metadata can have up to {_METADATA_KEYS} keys, but you passed {len(metadata)}."
        raise ApiError(400, "parameter_invalid", param, message)
    for key, value in metadata.items():
        if len(key) > _METADATA_KEY_CHARS:
            message = (
                f"Metadata keys can have up to {_METADATA_KEY_CHARS} characters, but you passed "
                f"in a key that is {len(key)} characters."
            )
            raise ApiError(400, "parameter_invalid", f"{param}[{key}]", message)
        if isinstance(value, str) and len(value) > _METADATA_VALUE_CHARS:
            message = (
                f"Metadata values can have up to {_METADATA_VALUE_CHARS} characters, but you "
                f"passed in a value that is {len(value)} characters."
            )
            raise ApiError(400, "parameter_invalid", f"{param}[{key}]", message)


def integer(params: Mapping[str, Any], name: str, param: str) -> int | None:
    """An integer parameter (amounts, quantities); a decimal or text is refused."""
    raw = params.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.lstrip("-").isdigit():
        message = f"Invalid integer: {raw}"
        raise ApiError(400, "parameter_invalid_integer", param, message)
    return int(raw)


def reference(
    params: Mapping[str, Any], name: str, collection: str, exists: Exists, param: str
) -> Any:
    """A reference parameter that must name an existing object."""
    value = params.get(name)
    if value is not None and not exists(collection, str(value)):
        kind = OBJECT_NAMES[collection]
        raise ApiError(400, "resource_missing", param, f"No such {kind}: '{value}'")
    return value


def price_from_data(
    data: Mapping[str, Any], exists: Exists, param: str, *, recurring: bool
) -> dict[str, Any]:
    """The price a ``price_data`` parameter describes (Stripe creates it inline)."""
    reference(data, "product", "products", exists, f"{param}[product]")
    for name in ("currency", "product"):
        if not data.get(name):
            raise ApiError(400, "parameter_missing", f"{param}[{name}]", f"Missing {name}.")
    if recurring and not isinstance(data.get("recurring"), dict):
        raise ApiError(400, "parameter_missing", f"{param}[recurring]", "Missing recurring.")
    unit_amount = integer(data, "unit_amount", f"{param}[unit_amount]")
    decimal = data.get("unit_amount_decimal")
    if unit_amount is None and decimal is None:
        raise ApiError(400, "parameter_missing", f"{param}[unit_amount]", "Missing unit_amount.")
    return {
        "object": "price",
        "currency": str(data["currency"]),
        "product": str(data["product"]),
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount) if decimal is None else str(decimal),
        "recurring": data.get("recurring"),
        "type": "recurring" if data.get("recurring") else "one_time",
    }
