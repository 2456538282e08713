"""Customer payments applied to invoices, as NetSuite applies them.

A CustomerPayment's ``applyList`` names invoices by internalId (``doc``); each line with
``apply`` true pays ``amount`` of that invoice (the whole amount due when no amount is given).
Saving the payment moves the money: the invoice's ``amountPaid`` rises, ``amountRemaining``
falls and its ``status`` becomes "Paid In Full" at zero. What the payment applied before (an
update, or the same upsert sent again) is taken back first, so re-sending a payment never
applies it twice, and deleting a payment reopens its invoices. A line naming no invoice of the
payment's customer, or paying more than an invoice still owes, refuses the whole payment, as
NetSuite does; the rest of the call is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
PAID_IN_FULL, OPEN = "Paid In Full", "Open"
# The invoice fields a payment moves.
_MOVED = ("amountPaid", "amountRemaining", "status")
# Store key of a record: (record type, externalId).
Key = tuple[str, str]
# An invoice by internalId: its store key and record, or None.
FindInvoice = Callable[[str], tuple[Key, dict[str, Any]] | None]
# The store key of the customer a RecordRef names, or None.
FindCustomer = Callable[[Any], Key | None]


@dataclass(frozen=True)
class Refusal:
    """Why NetSuite refuses a payment: a SuiteTalk status code and its message."""

    code: str
    message: str


@dataclass
class Settlement:
    """What saving a payment does: the payment as saved and the invoices it changes."""

    payment: dict[str, Any]
    invoices: dict[Key, dict[str, Any]] = field(default_factory=dict)


def money(value: Decimal) -> str:
    """An amount as NetSuite's two-decimal text."""
    return str(value.quantize(CENT))


def amount_of(value: Any) -> Decimal | None:
    """A plain value as an amount; None when it is missing or not a number."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def applied(payment: Mapping[str, Any]) -> dict[str, Decimal]:
    """Invoice internalId -> amount, for a saved payment's applyList lines with apply true."""
    amounts: dict[str, Decimal] = {}
    for line in _lines(payment):
        if _is_true(line.get("apply")):
            doc = str(line.get("doc"))
            amounts[doc] = amounts.get(doc, Decimal(0)) + (amount_of(line.get("amount")) or 0)
    return amounts


def settle(
    before: Mapping[str, Any] | None,
    payment: dict[str, Any],
    find_invoice: FindInvoice,
    find_customer: FindCustomer,
) -> Settlement | Refusal:
    """Apply ``payment`` (replacing ``before``, its saved version) to the invoices it names."""
    taken_back = applied(before) if before else {}
    customer = find_customer(payment.get("customer"))
    settlement = Settlement(payment)
    lines: list[Mapping[str, Any]] = []
    for line in _lines(payment):
        if not _is_true(line.get("apply")):
            lines.append(line)
            continue
        doc = str(line.get("doc"))
        found = _open_invoice(doc, customer, find_invoice, find_customer, lines)
        if isinstance(found, Refusal):
            return found
        key, invoice = found
        due = _remaining(invoice) + taken_back.pop(doc, Decimal(0))
        amount = amount_of(line.get("amount")) if "amount" in line else due
        if amount is None:
            return Refusal("INVALID_FLD_VALUE", f"Invalid amount {line['amount']!r} for doc {doc}.")
        if amount < 0 or amount > due:
            return _overpaid(invoice, amount, due)
        _changed(settlement, key, invoice, with_paid(invoice, amount, due))
        lines.append(line if "amount" in line else {**line, "amount": money(amount)})
    refused = _check_total(payment, lines)
    if refused is not None:
        return refused
    _take_back(taken_back, find_invoice, settlement)
    if lines:
        settlement.payment = {**payment, "applyList": {**payment["applyList"], "apply": lines}}
        if amount_of(payment.get("payment")) is None:  # NetSuite: the sum of what is applied
            settlement.payment["payment"] = money(sum(_applied_amounts(lines), Decimal(0)))
    return settlement


def unapply(payment: Mapping[str, Any], find_invoice: FindInvoice) -> dict[Key, dict[str, Any]]:
    """The invoices a deleted payment had paid, reopened by what it applied to them."""
    settlement = Settlement(dict(payment))
    _take_back(applied(payment), find_invoice, settlement)
    return settlement.invoices


def with_paid(invoice: Mapping[str, Any], amount: Decimal, due: Decimal) -> dict[str, Any]:
    """``invoice`` once a payment pays ``amount`` of its ``due`` (what the invoice still owes
    plus that payment's earlier share, which ``amount`` replaces)."""
    earlier_share = due - _remaining(invoice)
    paid = (amount_of(invoice.get("amountPaid")) or Decimal(0)) - earlier_share + amount
    return _with_amounts(invoice, paid, due - amount)


def recomputed(invoice: dict[str, Any], saved: Mapping[str, Any] | None) -> dict[str, Any]:
    """An invoice a client saves again after payments: NetSuite keeps what was paid and
    computes what remains (a client can set neither)."""
    paid = amount_of((saved or {}).get("amountPaid"))
    if not paid:
        return invoice
    return _with_amounts(invoice, paid, (amount_of(invoice.get("total")) or Decimal(0)) - paid)


def _with_amounts(invoice: Mapping[str, Any], paid: Decimal, remaining: Decimal) -> dict[str, Any]:
    return {
        **invoice,
        "amountPaid": money(paid),
        "amountRemaining": money(remaining),
        "status": PAID_IN_FULL if remaining == 0 else OPEN,
    }


def _lines(payment: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    listing = payment.get("applyList")
    lines = listing.get("apply") if isinstance(listing, Mapping) else None
    return [line for line in lines or () if isinstance(line, Mapping)]


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def _remaining(invoice: Mapping[str, Any]) -> Decimal:
    remaining = amount_of(invoice.get("amountRemaining"))
    return remaining if remaining is not None else amount_of(invoice.get("total")) or Decimal(0)


def _open_invoice(
    doc: str,
    customer: Key | None,
    find_invoice: FindInvoice,
    find_customer: FindCustomer,
    lines: list[Mapping[str, Any]],
) -> tuple[Key, dict[str, Any]] | Refusal:
    """The invoice ``doc`` of this payment's customer, named once in the applyList."""
    found = find_invoice(doc)
    if found is None:
        return Refusal("INVALID_KEY_OR_REF", f"Invalid doc reference key {doc}.")
    if any(_is_true(line.get("apply")) and str(line.get("doc")) == doc for line in lines):
        return Refusal("USER_ERROR", f"Invoice {doc} is applied twice in the applyList.")
    if customer is None or find_customer(found[1].get("entity")) != customer:
        message = f"Invalid doc reference key {doc}: no open invoice of this customer."
        return Refusal("INVALID_KEY_OR_REF", message)
    return found


def _changed(
    settlement: Settlement, key: Key, invoice: Mapping[str, Any], settled: dict[str, Any]
) -> None:
    """Keep ``settled`` unless it is what the invoice already says (then nothing moves)."""
    if any(invoice.get(name) != settled[name] for name in _MOVED):
        settlement.invoices[key] = settled


def _overpaid(invoice: Mapping[str, Any], amount: Decimal, due: Decimal) -> Refusal:
    number = invoice.get("tranId") or invoice.get("internalId")
    message = (
        f"You cannot apply {money(amount)} to invoice {number}: its amount due is {money(due)}."
    )
    return Refusal("USER_ERROR", message)


def _applied_amounts(lines: list[Any]) -> list[Decimal]:
    return [
        amount_of(line.get("amount")) or Decimal(0) for line in lines if _is_true(line.get("apply"))
    ]


def _check_total(payment: Mapping[str, Any], lines: list[Any]) -> Refusal | None:
    total = sum(_applied_amounts(lines), Decimal(0))
    limit = amount_of(payment.get("payment"))
    if limit is not None and total > limit:
        message = f"The total applied ({money(total)}) exceeds the payment amount ({money(limit)})."
        return Refusal("USER_ERROR", message)
    return None


def _take_back(amounts: Mapping[str, Decimal], find: FindInvoice, settlement: Settlement) -> None:
    """Reopen invoices the payment no longer applies to by what it had applied."""
    for doc, amount in amounts.items():
        found = find(doc)
        if found is not None:
            key, invoice = found
            reopened = with_paid(invoice, Decimal(0), _remaining(invoice) + amount)
            _changed(settlement, key, invoice, reopened)
