"""The facts revenue metrics are computed from, read out of canonical payloads.

The store holds each record as its canonical payload; here each is validated by its canonical
model (a payload that no longer validates is counted in ``skipped``, never guessed at) and cut
down to what the metrics use. Money stays ``Decimal`` in the record's currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from mappings.canonical import (
    BillingFrequency,
    ChargeType,
    Contract,
    CreditMemo,
    CreditMemoStatus,
    Invoice,
    InvoiceStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Subscription,
)
from mappings.subscription_state import SubscriptionChange, changes_by_subscription
from sync.assurance.values import to_major

Model = TypeVar("Model", Subscription, Order, Invoice, Payment, CreditMemo, Contract)
# The months one price covers when a record names no term: its billing period.
MONTHS_PER_FREQUENCY = {
    BillingFrequency.MONTHLY: 1,
    BillingFrequency.QUARTERLY: 3,
    BillingFrequency.SEMIANNUAL: 6,
    BillingFrequency.ANNUAL: 12,
}
# CPQ's default subscription term, for a record that names neither term nor frequency.
DEFAULT_TERM_MONTHS = 12
_NOT_RECURRING = frozenset({ChargeType.ONE_TIME, ChargeType.USAGE})
_NOT_BILLED = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.VOID})
_NOT_RECEIVABLE = _NOT_BILLED | {InvoiceStatus.UNCOLLECTIBLE}
_CREDITING = frozenset({CreditMemoStatus.ISSUED, CreditMemoStatus.APPLIED})


@dataclass(frozen=True)
class RecurringCharge:
    """One subscription with its amendments; each change's price is per unit per month."""

    subscription_id: str
    account_id: str
    currency: str
    changes: tuple[SubscriptionChange, ...]
    ends_on: date | None  # the last day it runs; None when it runs until cancelled


@dataclass(frozen=True)
class Booking:
    """An activated order: its contracted value from its effective date."""

    order_id: str
    account_id: str
    currency: str
    effective_on: date
    total: Decimal


@dataclass(frozen=True)
class Billed:
    """An issued invoice: ``balance_now`` is what the customer still owes today."""

    invoice_id: str
    account_id: str
    order_id: str | None
    currency: str
    issued_on: date
    due_on: date
    total: Decimal
    balance_now: Decimal
    receivable: bool  # False once written off (uncollectible): billed, no longer owed


@dataclass(frozen=True)
class Settlement:
    """Money that lowered one invoice's balance on a date: a payment part or a credit."""

    invoice_id: str
    on: date
    amount: Decimal


@dataclass(frozen=True)
class Collected:
    """A payment received."""

    account_id: str
    currency: str
    received_on: date
    amount: Decimal


@dataclass
class RevenueFacts:
    """Everything the metrics read, by kind; ``skipped`` counts payloads that do not validate."""

    recurring: list[RecurringCharge] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)
    invoices: list[Billed] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)
    collections: list[Collected] = field(default_factory=list)
    account_names: dict[str, str] = field(default_factory=dict)
    leakage: dict[str, Decimal] = field(default_factory=dict)  # open findings at risk
    skipped: dict[str, int] = field(default_factory=dict)

    def currencies(self) -> list[str]:
        """Every currency some fact is in, sorted."""
        found = {c.currency for c in self.recurring} | {b.currency for b in self.bookings}
        found |= {i.currency for i in self.invoices} | {c.currency for c in self.collections}
        return sorted(found | set(self.leakage))


def months_covered(record: Subscription, contract_terms: Mapping[str, int]) -> int:
    """The months one ``net_price`` pays for: the term, else the billing period, else 12."""
    if record.term_months:
        return record.term_months
    if record.contract_id and record.contract_id in contract_terms:
        return contract_terms[record.contract_id]
    if record.billing_frequency in MONTHS_PER_FREQUENCY:
        return MONTHS_PER_FREQUENCY[record.billing_frequency]
    return DEFAULT_TERM_MONTHS


def _monthly(record: Subscription, contract_terms: Mapping[str, int]) -> Subscription:
    monthly = record.net_price / months_covered(record, contract_terms)
    return record.model_copy(update={"net_price": monthly})


def _ends_on(records: list[Subscription]) -> date | None:
    ends = [r.end_date for r in records]
    return None if any(end is None for end in ends) else max(e for e in ends if e is not None)


def recurring_charges(
    subscriptions: Iterable[Subscription], contract_terms: Mapping[str, int]
) -> list[RecurringCharge]:
    """Subscriptions grouped with their amendments; one-time and usage charges left out."""
    kept = [
        _monthly(s, contract_terms) for s in subscriptions if s.charge_type not in _NOT_RECURRING
    ]
    by_id = {s.id: s for s in kept}
    charges = []
    for root, changes in sorted(changes_by_subscription(kept).items()):
        records = [by_id[c.record_id] for c in changes]
        first = by_id.get(root, records[0])
        charges.append(
            RecurringCharge(
                root, first.account_id, first.currency, tuple(changes), _ends_on(records)
            )
        )
    return charges


def booking_of(order: Order) -> Booking | None:
    """The booking an order makes: activated orders only."""
    if order.status is not OrderStatus.ACTIVATED:
        return None
    return Booking(order.id, order.account_id, order.currency, order.effective_date, order.total)


def billed_of(invoice: Invoice) -> Billed | None:
    """An invoice as billed: drafts and voided invoices were never billed."""
    if invoice.status in _NOT_BILLED:
        return None
    return Billed(
        invoice.id,
        invoice.account_id,
        invoice.order_id,
        invoice.currency,
        invoice.invoice_date,
        invoice.due_date or invoice.invoice_date,
        invoice.total,
        invoice.amount_due,
        invoice.status not in _NOT_RECEIVABLE,
    )


def payment_settlements(payment: Payment) -> list[Settlement]:
    """What a succeeded payment paid on each invoice (the whole amount to its one invoice)."""
    if payment.status is not PaymentStatus.SUCCEEDED:
        return []
    if payment.applications:
        return [
            Settlement(a.invoice_id, payment.received_on, a.amount) for a in payment.applications
        ]
    if payment.invoice_id:
        return [Settlement(payment.invoice_id, payment.received_on, payment.amount)]
    return []


def credit_settlement(memo: CreditMemo) -> Settlement | None:
    """What an issued credit memo took off its invoice."""
    if memo.status not in _CREDITING or memo.invoice_id is None:
        return None
    return Settlement(memo.invoice_id, memo.issued_on, memo.amount)


def collected_of(payment: Payment) -> Collected | None:
    """A succeeded payment as cash collected (refunded and failed ones are not)."""
    if payment.status is not PaymentStatus.SUCCEEDED:
        return None
    return Collected(payment.account_id, payment.currency, payment.received_on, payment.amount)


def validated(
    model: type[Model], payloads: Iterable[Mapping[str, Any]], skipped: dict[str, int]
) -> list[Model]:
    """The payloads that validate as ``model``; the others counted under its entity."""
    kept = []
    for payload in payloads:
        try:
            kept.append(model.model_validate(payload))
        except ValidationError:
            skipped[model.entity] = skipped.get(model.entity, 0) + 1
    return kept


def revenue_facts(
    payloads: Mapping[str, Iterable[Mapping[str, Any]]],
    account_names: Mapping[str, str],
    leakage_minor: Mapping[str, int],
) -> RevenueFacts:
    """The facts of the canonical payloads by entity (subscription, order, invoice, payment,
    credit_memo, contract), with the accounts' names and the open leakage by currency."""
    leakage = {currency: to_major(minor, currency) for currency, minor in leakage_minor.items()}
    facts = RevenueFacts(account_names=dict(account_names), leakage=leakage)
    skipped = facts.skipped
    contracts = validated(Contract, payloads.get("contract", ()), skipped)
    terms = {c.id: c.term_months for c in contracts if c.term_months}
    subscriptions = validated(Subscription, payloads.get("subscription", ()), skipped)
    facts.recurring = recurring_charges(subscriptions, terms)
    orders = validated(Order, payloads.get("order", ()), skipped)
    facts.bookings = [b for b in map(booking_of, orders) if b is not None]
    invoices = validated(Invoice, payloads.get("invoice", ()), skipped)
    facts.invoices = [b for b in map(billed_of, invoices) if b is not None]
    for payment in validated(Payment, payloads.get("payment", ()), skipped):
        facts.settlements += payment_settlements(payment)
        if (collected := collected_of(payment)) is not None:
            facts.collections.append(collected)
    for memo in validated(CreditMemo, payloads.get("credit_memo", ()), skipped):
        if (credit := credit_settlement(memo)) is not None:
            facts.settlements.append(credit)
    return facts
