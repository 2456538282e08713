"""The generic billing API's collections beyond customers, products and orders, without HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from sandboxes.billing.collections import COLLECTIONS
from sandboxes.billing.sandbox import ApiError, BillingState

CUSTOMER = "cus_00000001"
PRODUCT = "prod_00000001"
CONTACT = {"customer": CUSTOMER, "last_name": "Lovelace", "email": "ada@example.com"}
PRICE = {"product": PRODUCT, "currency": "EUR", "unit_amount": "120.00"}
QUOTE_LINE = {"product": PRODUCT, "quantity": "2", "unit_amount": "100.00", "amount": "180.00"}
QUOTE = {"customer": CUSTOMER, "status": "accepted", "currency": "EUR", "total": "180.00",
         "term_months": 12, "lines": [QUOTE_LINE]}  # fmt: skip
CONTRACT = {"customer": CUSTOMER, "status": "active", "currency": "EUR",
            "start_date": "2026-01-01"}  # fmt: skip
SUBSCRIPTION = {"customer": CUSTOMER, "product": PRODUCT, "quantity": "25",
                "unit_amount": "450.50", "currency": "EUR",
                "current_period_start": "2026-01-01", "status": "active"}  # fmt: skip
INVOICE_LINE = {"quantity": "1", "unit_amount": "150.00", "amount": "150.00"}
INVOICE = {"customer": CUSTOMER, "status": "open", "currency": "EUR", "date": "2026-02-01",
           "subtotal": "150.00", "total": "150.00", "amount_due": "150.00",
           "lines": [INVOICE_LINE]}  # fmt: skip
PAYMENT = {"customer": CUSTOMER, "amount": "150.00", "currency": "EUR", "date": "2026-02-10",
           "status": "succeeded"}  # fmt: skip
CREDIT_NOTE = {"customer": CUSTOMER, "status": "issued", "amount": "50.00", "currency": "EUR",
               "date": "2026-02-12"}  # fmt: skip
VALID = {
    "contacts": CONTACT,
    "prices": PRICE,
    "quotes": QUOTE,
    "contracts": CONTRACT,
    "subscriptions": SUBSCRIPTION,
    "invoices": INVOICE,
    "payments": PAYMENT,
    "credit_notes": CREDIT_NOTE,
}


@pytest.fixture
def state() -> BillingState:
    """A sandbox state holding one customer (cus_00000001) and one product (prod_00000001)."""
    billing = BillingState("sk_test_unit")
    billing.upsert("customers", "acc-1", {"name": "Acme", "currency": "EUR"})
    billing.upsert("products", "prod-1", {"name": "Seat", "sku": "SEAT"})
    return billing


@pytest.mark.parametrize("collection", sorted(VALID))
def test_a_valid_resource_is_created_with_the_collections_id_prefix_and_object(
    state: BillingState, collection: str
) -> None:
    reply = state.upsert(collection, "x-1", dict(VALID[collection]))

    table = COLLECTIONS[collection]
    assert reply.status == 201
    assert reply.body["id"] == f"{table.id_prefix}_00000001"
    assert reply.body["object"] == table.object_name
    assert state.upsert(collection, "x-1", dict(VALID[collection])).status == 200
    assert state.writes[(collection, "unchanged")] == 1


def _with(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**body, **changes}


@pytest.mark.parametrize(
    ("collection", "body", "code", "param"),
    [
        ("contacts", _with(CONTACT, last_name=None), "parameter_missing", "last_name"),
        ("contacts", _with(CONTACT, customer="cus_gone"), "resource_missing", "customer"),
        ("contacts", _with(CONTACT, email="ada at example"), "parameter_invalid", "email"),
        ("prices", _with(PRICE, unit_amount="-1.00"), "parameter_invalid", "unit_amount"),
        ("prices", _with(PRICE, product="prod_gone"), "resource_missing", "product"),
        ("quotes", _with(QUOTE, status="approved"), "parameter_invalid", "status"),
        ("quotes", _with(QUOTE, term_months="12"), "parameter_invalid", "term_months"),
        (
            "quotes",
            _with(QUOTE, lines=[_with(QUOTE_LINE, quantity="0")]),
            "parameter_invalid",
            "lines[0][quantity]",
        ),
        ("contracts", _with(CONTRACT, start_date=None), "parameter_missing", "start_date"),
        ("subscriptions", _with(SUBSCRIPTION, contract="ctr_gone"), "resource_missing", "contract"),
        ("subscriptions", _with(SUBSCRIPTION, status="expired"), "parameter_invalid", "status"),
        (
            "subscriptions",
            _with(SUBSCRIPTION, unit_amount=450.5),
            "parameter_invalid",
            "unit_amount",
        ),
        ("invoices", _with(INVOICE, amount_due="-5.00"), "parameter_invalid", "amount_due"),
        ("invoices", _with(INVOICE, order="ord_gone"), "resource_missing", "order"),
        (
            "invoices",
            _with(INVOICE, lines=[_with(INVOICE_LINE, product="prod_gone")]),
            "resource_missing",
            "lines[0][product]",
        ),
        ("payments", _with(PAYMENT, invoice="in_gone"), "resource_missing", "invoice"),
        ("payments", _with(PAYMENT, payment_method="wire"), "parameter_invalid", "payment_method"),
        ("credit_notes", _with(CREDIT_NOTE, amount=None), "parameter_missing", "amount"),
        ("credit_notes", _with(CREDIT_NOTE, currency="eur"), "parameter_invalid", "currency"),
    ],
)
def test_an_invalid_resource_is_refused_with_a_stripe_shaped_code_and_param(
    state: BillingState, collection: str, body: dict[str, Any], code: str, param: str
) -> None:
    with pytest.raises(ApiError) as refused:
        state.upsert(collection, "x-1", body)
    assert (refused.value.status, refused.value.code, refused.value.param) == (400, code, param)
    assert state.resources(collection) == []


def test_a_payment_may_refer_to_an_invoice_billing_holds(state: BillingState) -> None:
    invoice = state.upsert("invoices", "inv-1", dict(INVOICE)).body["id"]

    reply = state.upsert("payments", "pay-1", _with(PAYMENT, invoice=invoice))

    assert (reply.status, reply.body["invoice"]) == (201, "in_00000001")
