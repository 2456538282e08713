"""The generic billing API's collections: one table of id prefix, object name and field schema.

Field names and statuses follow what Stripe and Chargebee use (``customer``, ``unit_amount``,
``current_period_start``, ``amount_due``, ``credit_notes``); references carry billing ids
(``cus_...``) and are refused with ``resource_missing`` when no such resource exists. Every
route of the sandbox (list, get, upsert) serves each collection of :data:`COLLECTIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sandboxes.billing.rules import Nested, OneOf, Ref, Schema


@dataclass(frozen=True)
class Collection:
    """One collection: the prefix of the ids it hands out, its ``object`` name and schema."""

    id_prefix: str
    object_name: str
    schema: Schema


_CUSTOMER = Ref("customers")
_PRODUCT = Ref("products")
_EXTERNAL_ID = ("string", False)

_ADDRESS: Schema = dict.fromkeys(
    ("line1", "city", "state", "postal_code", "country"), ("string", False)
)
_CHARGE_TYPE = (OneOf(("one_time", "recurring", "usage")), False)
_ORDER_LINE: Schema = {
    "product": (_PRODUCT, True),
    # Signed: an amendment order's line holds the change (lifecycle.check_order).
    "quantity": ("quantity_change", False),
    "revises": (Ref("subscriptions"), False),
    "unit_amount": ("decimal", False),
    "amount": ("decimal", False),
    "start_date": ("date", False),
    "end_date": ("date", False),
}
_QUOTE_LINE: Schema = {
    "product": (_PRODUCT, True),
    # After the change: 0 on an amendment quote's line that removes the product.
    "quantity": ("amount", True),
    "prior_quantity": ("amount", False),
    "unit_amount": ("amount", True),  # the list price
    "discount_percent": ("decimal", False),
    "amount": ("decimal", True),  # net of the discount
}
_INVOICE_LINE: Schema = {
    "product": (_PRODUCT, False),  # a line may bill a charge that is no product
    "description": ("string", False),
    "quantity": ("quantity", True),
    "unit_amount": ("decimal", True),
    "amount": ("decimal", True),
}

_CUSTOMERS: Schema = {
    "external_id": _EXTERNAL_ID,
    "name": ("string", True),
    "currency": ("currency", True),
    "email": ("email", False),
    "phone": ("string", False),
    "address": (Nested(_ADDRESS), False),
}
_CONTACTS: Schema = {
    "external_id": _EXTERNAL_ID,
    "customer": (_CUSTOMER, True),
    "first_name": ("string", False),
    "last_name": ("string", True),
    "email": ("email", False),
    "phone": ("string", False),
}
_PRODUCTS: Schema = {
    "external_id": _EXTERNAL_ID,
    "name": ("string", True),
    "sku": ("string", True),
    "description": ("string", False),
    "active": ("bool", False),
}
_PRICES: Schema = {
    "external_id": _EXTERNAL_ID,
    "product": (_PRODUCT, True),
    "currency": ("currency", True),
    "unit_amount": ("amount", True),
    "nickname": ("string", False),
    "active": ("bool", False),
}
_QUOTES: Schema = {
    "external_id": _EXTERNAL_ID,
    "customer": (_CUSTOMER, True),
    "number": ("string", False),
    "status": (OneOf(("draft", "open", "accepted", "canceled")), True),
    "currency": ("currency", True),
    "effective_date": ("date", False),
    "expires_at": ("date", False),
    "term_months": ("count", False),
    "total": ("decimal", True),
    "lines": (Nested(_QUOTE_LINE, is_list=True), False),
}
_CONTRACTS: Schema = {
    "external_id": _EXTERNAL_ID,
    "customer": (_CUSTOMER, True),
    "number": ("string", False),
    "status": (OneOf(("draft", "active", "completed", "terminated")), True),
    "currency": ("currency", True),
    "start_date": ("date", True),
    "end_date": ("date", False),
    "term_months": ("count", False),
}
_SUBSCRIPTIONS: Schema = {
    "external_id": _EXTERNAL_ID,
    "customer": (_CUSTOMER, True),
    "contract": (Ref("contracts"), False),
    "product": (_PRODUCT, True),
    # > 0 on a subscription, the signed change on one that revises another (lifecycle.py).
    "quantity": ("quantity_change", True),
    "unit_amount": ("decimal", True),
    "currency": ("currency", True),
    "current_period_start": ("date", True),
    "current_period_end": ("date", False),
    "status": (OneOf(("trialing", "active", "past_due", "canceled", "unpaid", "paused")), True),
    "revises": (Ref("subscriptions"), False),
    "effective_date": ("date", False),
    "cancel_at": ("date", False),
    "renewed_at": ("date", False),
    "proration_multiplier": ("amount", False),
    "charge_type": _CHARGE_TYPE,
    "usage_type": (OneOf(("licensed", "metered")), False),
    "billing_frequency": ("string", False),
}
_ORDERS: Schema = {
    "external_id": _EXTERNAL_ID,
    "customer": (_CUSTOMER, True),
    "number": ("string", False),
    "status": (OneOf(("draft", "active", "cancelled")), False),
    "type": (OneOf(("new", "amendment", "renewal", "cancellation")), False),
    "currency": ("currency", True),
    "effective_date": ("date", True),
    "end_date": ("date", False),
    "total": ("decimal", True),
    "lines": (Nested(_ORDER_LINE, is_list=True), False),
}
_INVOICES: Schema = {
    "external_id": _EXTERNAL_ID,
    "customer": (_CUSTOMER, True),
    "order": (Ref("orders"), False),
    "number": ("string", False),
    "status": (OneOf(("draft", "open", "paid", "void", "uncollectible")), True),
    "currency": ("currency", True),
    "date": ("date", True),
    "due_date": ("date", False),
    "subtotal": ("decimal", True),
    "tax": ("decimal", False),
    "total": ("decimal", True),
    "amount_due": ("amount", True),
    "lines": (Nested(_INVOICE_LINE, is_list=True), False),
}
_PAYMENTS: Schema = {
    "external_id": _EXTERNAL_ID,
    "customer": (_CUSTOMER, True),
    "invoice": (Ref("invoices"), False),
    "amount": ("amount", True),
    "currency": ("currency", True),
    "date": ("date", True),
    "payment_method": (OneOf(("card", "ach_debit", "bank_transfer", "check", "other")), False),
    "status": (OneOf(("pending", "succeeded", "failed")), True),
    "refunded": ("bool", False),
}
_CREDIT_NOTES: Schema = {
    "external_id": _EXTERNAL_ID,
    "customer": (_CUSTOMER, True),
    "invoice": (Ref("invoices"), False),
    "number": ("string", False),
    "status": (OneOf(("draft", "issued", "applied", "void")), True),
    "amount": ("amount", True),
    "currency": ("currency", True),
    "date": ("date", True),
    "memo": ("string", False),
}

COLLECTIONS: Mapping[str, Collection] = {
    "customers": Collection("cus", "customer", _CUSTOMERS),
    "contacts": Collection("ctc", "contact", _CONTACTS),
    "products": Collection("prod", "product", _PRODUCTS),
    "prices": Collection("price", "price", _PRICES),
    "quotes": Collection("qt", "quote", _QUOTES),
    "contracts": Collection("ctr", "contract", _CONTRACTS),
    "subscriptions": Collection("sub", "subscription", _SUBSCRIPTIONS),
    "orders": Collection("ord", "order", _ORDERS),
    "invoices": Collection("in", "invoice", _INVOICES),
    "payments": Collection("py", "payment", _PAYMENTS),
    "credit_notes": Collection("cn", "credit_note", _CREDIT_NOTES),
}
SCHEMAS: Mapping[str, Schema] = {name: table.schema for name, table in COLLECTIONS.items()}
