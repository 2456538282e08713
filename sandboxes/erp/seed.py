"""Receivables the ERP sandbox can seed, as NetSuite users would enter them: an invoice with
item lines for each of a few customers, and a credit memo credited from each invoice.

Customers and items must exist first (revbridge writes them); records refer to them by
internalId, as NetSuite answers references it made itself.
"""

from __future__ import annotations

from typing import Any

from sandboxes.erp.store import ErpStore

_ITEM_TYPES = ("ServiceSaleItem", "InventoryItem")
# (quantity, rate, amount) of each seeded invoice line.
_INVOICE_LINES = (("2", "150.00", "300.00"), ("1", "99.50", "99.50"))
_CREDIT = "50.00"


def seed_receivables(store: ErpStore, customers: int = 3) -> list[tuple[str, str]]:
    """Seed an invoice and a credit memo for each of the first ``customers`` customers.

    Returns (invoice internalId, credit memo internalId) pairs; none without customers or items.
    """
    found = store.matching(("Customer",), lambda _: True)[:customers]
    items = [record for _, record in store.matching(_ITEM_TYPES, lambda _: True)]
    if not items:
        return []
    seeded = []
    for number, (_, customer) in enumerate(found, start=1):
        invoice = store.upsert("Invoice", _invoice(number, customer, items))
        memo = store.upsert("CreditMemo", _credit_memo(number, customer, str(invoice.internal_id)))
        seeded.append((str(invoice.internal_id), str(memo.internal_id)))
    return seeded


def _invoice(number: int, customer: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    lines = [
        {
            "item": {"internalId": items[index % len(items)]["internalId"]},
            "quantity": quantity,
            "rate": rate,
            "amount": amount,
        }
        for index, (quantity, rate, amount) in enumerate(_INVOICE_LINES)
    ]
    total = str(sum(float(amount) for _, _, amount in _INVOICE_LINES))
    return {
        "externalId": f"SANDBOX-INV-{number}",
        "entity": {"internalId": customer["internalId"]},
        "tranDate": "2026-02-01T00:00:00",
        "tranId": f"INV-{number:05}",
        "currency": customer.get("currency") or {"internalId": "1"},
        "dueDate": "2026-03-03T00:00:00",
        "subTotal": total,
        "total": total,
        "status": "Open",
        "itemList": {"item": lines},
    }


def _credit_memo(number: int, customer: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    return {
        "externalId": f"SANDBOX-CM-{number}",
        "entity": {"internalId": customer["internalId"]},
        "currency": customer.get("currency") or {"internalId": "1"},
        "tranDate": "2026-02-15T00:00:00",
        "tranId": f"CM-{number:05}",
        "createdFrom": {"internalId": invoice_id},
        "memo": "Service credit",
        "total": _CREDIT,
        "status": "Open",
    }
