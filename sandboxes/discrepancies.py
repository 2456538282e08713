"""Discrepancies a person makes behind revbridge's back, for reconciliation tests and demos.

Each goes through a sandbox's own public surface (billing ``resources``, ``seed`` and its
HTTP API; the ERP's ``enter``, as a NetSuite user keys a record into its UI): nothing here
reaches into a sandbox's state. The ERP ones make what reconcile reports as orphans and, with
a run that does not reach Salesforce, as a payment status mismatch.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from typing import Any

from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.erp.sandbox import ErpSandbox

# What the billing API sets itself; an edit sends the rest back.
_SERVER_FIELDS = ("id", "object", "created", "updated")


def billing_object(billing: BillingSandbox, collection: str, external_id: str) -> dict[str, Any]:
    """The stored billing object with revbridge's marker ``external_id``."""
    for resource in billing.resources(collection):
        if resource.get("external_id") == external_id:
            return resource
    raise KeyError(f"no {collection} object with external_id {external_id}")


def edit_billing_object(
    billing: BillingSandbox, collection: str, external_id: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change fields of one billing object by hand (an amount edited in the billing UI)."""
    current = billing_object(billing, collection, external_id)
    body = {k: v for k, v in current.items() if k not in _SERVER_FIELDS}
    (stored,) = billing.seed(collection, [{**body, **changes}])
    return stored


def create_billing_object(
    billing: BillingSandbox, collection: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """Create an object by hand, carrying a marker (``external_id``) revbridge never wrote."""
    (stored,) = billing.seed(collection, [dict(body)])
    return stored


def put_unmarked_billing_object(
    billing: BillingSandbox, collection: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """Create (or edit) the one object of ``collection`` made in the billing UI, which carries
    no marker at all (an empty ``external_id``); each call replaces the last one's fields."""
    (stored,) = billing.seed(collection, [{**body, "external_id": ""}])
    return stored


def delete_billing_object(billing: BillingSandbox, collection: str, external_id: str) -> None:
    """Delete one object through the billing API, as an admin would."""
    request = urllib.request.Request(  # noqa: S310 - the loopback sandbox's own URL
        f"{billing.url}/v1/{collection}/{external_id}",
        method="DELETE",
        headers={"Authorization": f"Bearer {billing.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        json.load(answer)


def _ref(internal_id: str) -> dict[str, str]:
    return {"internalId": internal_id}


def enter_erp_invoice_by_hand(
    erp: ErpSandbox,
    number: str,
    customer_id: str,
    currency_id: str,
    total: str,
    on: str = "2026-02-01",
) -> str:
    """An invoice keyed into the ERP by hand, made from no sales order; its internalId."""
    return erp.enter(
        "Invoice",
        {
            "externalId": f"HAND-{number}",
            "tranId": number,
            "entity": _ref(customer_id),
            "tranDate": on,
            "dueDate": on,
            "currency": _ref(currency_id),
            "subTotal": total,
            "total": total,
            "status": "Open",
            "itemList": {"item": []},
        },
    )


def enter_erp_credit_memo_by_hand(
    erp: ErpSandbox, number: str, customer_id: str, currency_id: str, amount: str
) -> str:
    """A credit memo credited from no invoice; its internalId."""
    return erp.enter(
        "CreditMemo",
        {
            "externalId": f"HAND-{number}",
            "tranId": number,
            "entity": _ref(customer_id),
            "tranDate": "2026-02-15",
            "currency": _ref(currency_id),
            "memo": "goodwill",
            "total": amount,
            "status": "Open",
        },
    )


def enter_erp_payment(
    erp: ErpSandbox,
    number: str,
    customer_id: str,
    currency_id: str,
    amount: str,
    invoice_id: str | None = None,
) -> str:
    """A customer payment recorded in the ERP, applied to ``invoice_id`` (which it lowers, to
    "Paid In Full" when it covers the balance), or to no invoice at all; its internalId."""
    payment: dict[str, Any] = {
        "externalId": f"HAND-{number}",
        "customer": _ref(customer_id),
        "currency": _ref(currency_id),
        "tranDate": "2026-02-20",
        "payment": amount,
    }
    if invoice_id is not None:
        payment["applyList"] = {"apply": [{"apply": True, "doc": invoice_id, "amount": amount}]}
    return erp.enter("CustomerPayment", payment)
