"""Salesforce Billing's invoice roll-ups, computed by the sandbox org as the package does.

An invoice's subtotal, tax and total sum its live lines, and a line's total is its subtotal plus
tax; its balance is the total less what live payment allocations applied to it (an
``Unallocation`` gives back), and a payment's balance is its amount less what it allocated.
revbridge never writes them (describe says they are calculated).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from decimal import Decimal
from typing import Any

from sandboxes.salesforce.cpq_seed import money

Records = dict[str, MutableMapping[str, dict[str, Any]]]


def _amount(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def roll_up_invoices(records: Records, invoice_ids: Iterable[str]) -> None:
    """Recompute the roll-ups of these invoices from their live lines."""
    wanted = set(invoice_ids)
    sums = {invoice_id: [Decimal(0), Decimal(0)] for invoice_id in wanted}
    for line in records["blng__InvoiceLine__c"].values():
        if line["blng__Invoice__c"] not in wanted or line["IsDeleted"]:
            continue
        subtotal, tax = _amount(line["blng__Subtotal__c"]), _amount(line["blng__TaxAmount__c"])
        line["blng__TotalAmount__c"] = money(subtotal + tax)
        sums[line["blng__Invoice__c"]][0] += subtotal
        sums[line["blng__Invoice__c"]][1] += tax
    for invoice_id, (subtotal, tax) in sums.items():
        invoice = records["blng__Invoice__c"].get(invoice_id)
        if invoice is None:
            continue
        invoice["blng__Subtotal__c"] = money(subtotal)
        invoice["blng__TaxAmount__c"] = money(tax)
        invoice["blng__TotalAmount__c"] = money(subtotal + tax)
    roll_up_allocations(records, wanted, ())


def _allocated(allocation: dict[str, Any]) -> Decimal:
    """What one live allocation applies (an unallocation takes it back)."""
    if allocation["IsDeleted"]:
        return Decimal(0)
    amount = _amount(allocation["blng__Amount__c"])
    return -amount if allocation.get("blng__Type__c") == "Unallocation" else amount


def roll_up_allocations(
    records: Records, invoice_ids: Iterable[str], payment_ids: Iterable[str]
) -> None:
    """Recompute the balances of these invoices and payments from their live allocations."""
    invoices, payments = set(invoice_ids), set(payment_ids)
    applied = {invoice_id: Decimal(0) for invoice_id in invoices}
    allocated = {payment_id: Decimal(0) for payment_id in payments}
    for allocation in records["blng__PaymentAllocationInvoice__c"].values():
        if allocation["blng__Invoice__c"] in applied:
            applied[allocation["blng__Invoice__c"]] += _allocated(allocation)
        if allocation["blng__Payment__c"] in allocated:
            allocated[allocation["blng__Payment__c"]] += _allocated(allocation)
    for invoice_id, paid in applied.items():
        if (invoice := records["blng__Invoice__c"].get(invoice_id)) is not None:
            invoice["blng__Balance__c"] = money(_amount(invoice["blng__TotalAmount__c"]) - paid)
    for payment_id, spent in allocated.items():
        if (payment := records["blng__Payment__c"].get(payment_id)) is not None:
            payment["blng__Balance__c"] = money(_amount(payment["blng__Amount__c"]) - spent)
