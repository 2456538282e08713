"""Salesforce Billing's invoice roll-ups, computed by the sandbox org as the package does.

An invoice's subtotal, tax and total sum its live lines, and a line's total is its subtotal plus
tax, so revbridge never writes them (describe says they are calculated).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sandboxes.salesforce.cpq_seed import money

Records = dict[str, dict[str, dict[str, Any]]]


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
        # No payment allocations in the sandbox: the balance is the whole total.
        invoice["blng__TotalAmount__c"] = invoice["blng__Balance__c"] = money(subtotal + tax)
