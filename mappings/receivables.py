"""The receivables side of the canonical model: invoices, payments and credit memos.

The ERP (or, with the Stripe profile, the billing system) owns these; Salesforce Billing and
the billing system show them, so sales sees who is behind on payments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from mappings.canonical_types import (
    CanonicalId,
    CanonicalRecord,
    CurrencyCode,
    Money,
    NonNegativeMoney,
    OptionalText,
    PositiveMoney,
    Quantity,
)


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class InvoiceLine(CanonicalRecord):
    """One charge on an invoice."""

    entity: ClassVar[str] = "invoice_line"
    invoice_id: CanonicalId
    product_id: CanonicalId | None = None
    description: OptionalText = None
    quantity: Quantity
    unit_price: Money
    amount: Money


class Invoice(CanonicalRecord):
    """A customer invoice, owned by billing or the ERP."""

    entity: ClassVar[str] = "invoice"
    account_id: CanonicalId
    order_id: CanonicalId | None = None
    invoice_number: OptionalText = None
    status: InvoiceStatus
    invoice_date: date
    due_date: date | None = None
    currency: CurrencyCode
    subtotal: Money
    tax: Money = Decimal(0)
    total: Money
    # What the customer still owes once payments and credits are applied (the balance).
    amount_due: NonNegativeMoney
    lines: list[InvoiceLine] = Field(default_factory=list)


class PaymentMethod(StrEnum):
    CARD = "card"
    ACH = "ach"
    WIRE = "wire"
    CHECK = "check"
    OTHER = "other"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


class PaymentApplication(CanonicalRecord):
    """The part of a payment applied to one invoice (a NetSuite applyList line)."""

    entity: ClassVar[str] = "payment_application"
    payment_id: CanonicalId
    invoice_id: CanonicalId
    amount: PositiveMoney


class Payment(CanonicalRecord):
    """Money received against an account, applied to the invoices it pays.

    ``applications`` says how much went to each invoice; ``invoice_id`` is the one invoice a
    payment pays, given by the source (a Stripe charge) or, when the payment applies to exactly
    one invoice, that invoice.
    """

    entity: ClassVar[str] = "payment"
    account_id: CanonicalId
    invoice_id: CanonicalId | None = None
    amount: NonNegativeMoney
    currency: CurrencyCode
    received_on: date
    method: PaymentMethod = PaymentMethod.OTHER
    status: PaymentStatus
    applications: list[PaymentApplication] = Field(default_factory=list)

    @field_validator("applications", mode="before")
    @classmethod
    def _applied_lines_only(cls, lines: object) -> object:
        """A line naming no invoice applies nothing (NetSuite lists the customer's other open
        invoices with ``apply`` false; the mapping leaves their invoice out)."""
        if not isinstance(lines, list):
            return lines
        return [line for line in lines if not isinstance(line, dict) or line.get("invoice_id")]

    @model_validator(mode="after")
    def _one_invoice_paid(self) -> Payment:
        if self.invoice_id is None and len(self.applications) == 1:
            self.invoice_id = self.applications[0].invoice_id
        return self


class CreditMemoStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    APPLIED = "applied"
    VOID = "void"


class CreditMemo(CanonicalRecord):
    """A credit note reducing what an account owes."""

    entity: ClassVar[str] = "credit_memo"
    account_id: CanonicalId
    invoice_id: CanonicalId | None = None
    memo_number: OptionalText = None
    amount: NonNegativeMoney
    currency: CurrencyCode
    issued_on: date
    reason: OptionalText = None
    status: CreditMemoStatus
