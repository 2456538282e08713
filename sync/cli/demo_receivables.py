"""Finance's side of the demo: invoice synced sales orders in the ERP and record payments.

Quote-to-cash puts sales orders in the ERP; in NetSuite, finance then bills them (an Invoice
created from the SalesOrder, with its item lines) and records customer payments, each applied to
the invoice it pays (its ``applyList``), so NetSuite lowers that invoice's amount remaining.
These helpers do that through the ERP connector, so a ``receivables`` flow has invoices,
balances and payments to carry to Salesforce and billing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import sqlalchemy as sa

from connectors.base import Connector, WriteSpec
from sync.store import Store
from sync.store.records import iter_stored, xref_entries

# The ERP mapping's currency internal ids (mappings/erp.yaml) of a default NetSuite account.
ERP_CURRENCY_IDS = {"USD": "1", "GBP": "2", "CAD": "3", "EUR": "4", "AUD": "5", "JPY": "6"}
PAYMENT_TERMS_DAYS = 30
# A part payment pays this share of its invoice (rounded down to the cent).
PART_PAYMENT_SHARE = Decimal("0.4")


def ticking_clock() -> Callable[[], float]:
    """The demo ERP's clock: a second later at each reading, from now.

    An ERP search stops a second before the ERP's clock (records saved in the last second may
    still be committing), so with this clock what finance just saved is read by the next run
    without waiting.
    """
    start, ticks = time.time(), itertools.count()
    return lambda: start + next(ticks)


@dataclass(frozen=True)
class BilledOrder:
    """An ERP invoice made from one synced order, and its payment if it was paid (in full or
    in part); ``invoice_id`` is the invoice's internalId in the ERP."""

    order_id: str
    invoice: dict[str, Any]
    payment: dict[str, Any] | None
    invoice_id: str | None = None

    @property
    def amount_due(self) -> Decimal:
        """What the customer still owes on the invoice once its payment is applied."""
        paid = Decimal(str(self.payment["payment"])) if self.payment else Decimal(0)
        return Decimal(str(self.invoice["total"])) - paid


def _activated_orders(connection: sa.Connection, limit: int) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    for batch in iter_stored(connection, "order"):
        # New orders only: an amendment's change (a negative downgrade) is not invoiced as sold.
        orders += [
            r.payload
            for r in batch
            if r.payload.get("status") == "activated" and r.payload.get("order_type") == "new"
        ]
    return sorted(orders, key=lambda order: str(order["id"]))[:limit]


def erp_invoice(order: Mapping[str, Any], refs: Mapping[str, str], number: int) -> dict[str, Any]:
    """A SuiteTalk Invoice billing ``order`` in full; ``refs`` maps canonical ids to internalIds."""
    issued = dt.date.fromisoformat(str(order["effective_date"]))
    items = [
        {"item": {"externalId": line["product_id"]}, "quantity": str(line["quantity"]),
         "rate": str(line["unit_price"]), "amount": str(line["total"])}
        for line in order.get("lines") or ()
    ]  # fmt: skip
    return {
        "externalId": f"INV-{number:05d}",
        "tranId": f"INV-{number:05d}",
        "entity": {"internalId": refs[order["account_id"]]},
        "createdFrom": {"internalId": refs[order["id"]]},
        "tranDate": issued.isoformat(),
        "dueDate": (issued + dt.timedelta(days=PAYMENT_TERMS_DAYS)).isoformat(),
        "currency": {"internalId": ERP_CURRENCY_IDS[str(order["currency"])]},
        "subTotal": str(order["total"]),
        "taxTotal": "0.00",
        "total": str(order["total"]),
        "itemList": {"item": items},
    }


def erp_payment(
    invoice: Mapping[str, Any], applied_to: str | None = None, amount: Decimal | None = None
) -> dict[str, Any]:
    """A CustomerPayment of ``amount`` (the invoice's total by default), ten days after the
    invoice was issued, applied to the invoice whose ERP internalId is ``applied_to``."""
    issued = dt.date.fromisoformat(str(invoice["tranDate"]))
    paid = str(invoice["total"] if amount is None else amount)
    payment: dict[str, Any] = {
        "externalId": str(invoice["externalId"]).replace("INV-", "PAY-"),
        "customer": invoice["entity"],
        "currency": invoice["currency"],
        "tranDate": (issued + dt.timedelta(days=10)).isoformat(),
        "payment": paid,
    }
    if applied_to is not None:
        payment["applyList"] = {"apply": [{"apply": True, "doc": applied_to, "amount": paid}]}
    return payment


def part_of(invoice: Mapping[str, Any]) -> Decimal:
    """The part of ``invoice``'s total a part payment pays."""
    total = Decimal(str(invoice["total"]))
    return (total * PART_PAYMENT_SHARE).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def bill_orders(
    store: Store, erp: Connector, count: int, paid: int, part_paid: int = 0
) -> list[BilledOrder]:
    """Invoice the first ``count`` activated orders in the ERP; the first ``paid`` invoices are
    paid in full and the next ``part_paid`` in part, each payment applied to its invoice."""
    with store.engine.connect() as connection:
        orders = _activated_orders(connection, count)
        wanted = [i for o in orders for i in (o["id"], o["account_id"])]
        refs = {cid: e.external_id for cid, e in xref_entries(connection, "erp", wanted).items()}
    billed = [o for o in orders if o["id"] in refs and o["account_id"] in refs]
    invoices = [erp_invoice(order, refs, n) for n, order in enumerate(billed, start=1)]
    invoice_ids = _write(erp, "Invoice", invoices)
    payments: list[dict[str, Any] | None] = [None] * len(invoices)
    for n, (invoice, invoice_id) in enumerate(zip(invoices, invoice_ids, strict=True)):
        if n < paid:
            payments[n] = erp_payment(invoice, invoice_id)
        elif n < paid + part_paid:
            payments[n] = erp_payment(invoice, invoice_id, part_of(invoice))
    _write(erp, "CustomerPayment", [payment for payment in payments if payment is not None])
    return [
        BilledOrder(order["id"], invoice, payment, invoice_id)
        for order, invoice, payment, invoice_id in zip(
            billed, invoices, payments, invoice_ids, strict=True
        )
    ]


def _write(erp: Connector, record_type: str, records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Upsert ``records``; their ERP internalIds, in order."""
    results = erp.write(WriteSpec(record_type, "externalId"), records)
    refused = [f"{r.external_id}: {r.error_message}" for r in results if not r.ok]
    if refused:
        raise RuntimeError(f"the ERP refused {record_type} records: {'; '.join(refused)}")
    return [str(result.target_id) for result in results]
