"""The canonical revenue data model: one pydantic model per record type of quote-to-cash.

Money is ``Decimal`` plus an ISO 4217 currency, dates are dates, statuses are enums, and records
refer to each other by canonical id, never by one system's id. Every record carries its
canonical id, its source (system, object, id) and the source's last-modified time.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from mappings.currencies import ISO_4217_CODES


def _check_currency(code: str) -> str:
    if code not in ISO_4217_CODES:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _check_finite(amount: Decimal) -> Decimal:
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    return amount


CurrencyCode = Annotated[
    str,
    StringConstraints(to_upper=True, min_length=3, max_length=3),
    AfterValidator(_check_currency),
]
Money = Annotated[Decimal, AfterValidator(_check_finite)]
PositiveMoney = Annotated[Decimal, Field(gt=0), AfterValidator(_check_finite)]
NonNegativeMoney = Annotated[Decimal, Field(ge=0), AfterValidator(_check_finite)]
Quantity = Annotated[Decimal, Field(gt=0), AfterValidator(_check_finite)]
CanonicalId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
OptionalText = Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=4000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_enum_values=False)


class SourceRef(_Model):
    """Where a record was captured: its system of record, object type and id there."""

    system: Annotated[str, StringConstraints(min_length=1)]
    object: Annotated[str, StringConstraints(min_length=1)]
    id: Annotated[str, StringConstraints(min_length=1)]


class Address(_Model):
    """A postal address (Salesforce compound address, NetSuite address book entry)."""

    street: OptionalText = None
    city: OptionalText = None
    state: OptionalText = None
    postal_code: OptionalText = None
    country: OptionalText = None


class CanonicalRecord(_Model):
    """Fields every canonical record carries."""

    entity: ClassVar[str]

    id: CanonicalId
    source: SourceRef
    source_modified_at: AwareDatetime


class AccountStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Account(CanonicalRecord):
    """A customer company: Salesforce Account, billing customer, ERP customer."""

    entity: ClassVar[str] = "account"
    name: Name
    account_number: OptionalText = None
    currency: CurrencyCode
    status: AccountStatus = AccountStatus.ACTIVE
    billing_address: Address | None = None
    phone: OptionalText = None
    website: OptionalText = None
    parent_account_id: CanonicalId | None = None


class Contact(CanonicalRecord):
    """A person at an account, e.g. the bill-to contact."""

    entity: ClassVar[str] = "contact"
    account_id: CanonicalId
    first_name: OptionalText = None
    last_name: Name
    email: OptionalText = None
    phone: OptionalText = None


class Product(CanonicalRecord):
    """A sellable product or service (Product2, billing product, ERP item)."""

    entity: ClassVar[str] = "product"
    name: Name
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    description: OptionalText = None
    family: OptionalText = None
    active: bool = True


class PriceBookEntry(CanonicalRecord):
    """A product's list price in one price book and currency."""

    entity: ClassVar[str] = "price_book_entry"
    product_id: CanonicalId
    price_book: Name
    currency: CurrencyCode
    unit_price: NonNegativeMoney
    active: bool = True


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PRESENTED = "presented"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class QuoteLine(CanonicalRecord):
    """One product on a CPQ quote."""

    entity: ClassVar[str] = "quote_line"
    quote_id: CanonicalId
    product_id: CanonicalId
    quantity: Quantity
    list_price: NonNegativeMoney
    net_price: Money
    discount_percent: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(0)
    total: Money


class Quote(CanonicalRecord):
    """A CPQ quote (SBQQ__Quote__c)."""

    entity: ClassVar[str] = "quote"
    account_id: CanonicalId
    quote_number: OptionalText = None
    status: QuoteStatus
    currency: CurrencyCode
    start_date: date | None = None
    expiration_date: date | None = None
    subscription_term_months: Annotated[int, Field(ge=0)] | None = None
    total: Money
    primary: bool = False
    lines: list[QuoteLine] = Field(default_factory=list)


class OrderStatus(StrEnum):
    DRAFT = "draft"
    ACTIVATED = "activated"
    CANCELLED = "cancelled"


class OrderLine(CanonicalRecord):
    """One product on an order (OrderItem, sales order item line)."""

    entity: ClassVar[str] = "order_line"
    order_id: CanonicalId
    product_id: CanonicalId
    line_number: Annotated[int, Field(ge=1)] | None = None
    quantity: Quantity
    unit_price: NonNegativeMoney
    total: Money
    start_date: date | None = None
    end_date: date | None = None


class Order(CanonicalRecord):
    """A booked order, the hand-off from CPQ to billing and ERP."""

    entity: ClassVar[str] = "order"
    account_id: CanonicalId
    quote_id: CanonicalId | None = None
    contract_id: CanonicalId | None = None
    order_number: OptionalText = None
    status: OrderStatus
    effective_date: date
    end_date: date | None = None
    currency: CurrencyCode
    total: Money
    lines: list[OrderLine] = Field(default_factory=list)


class ContractStatus(StrEnum):
    DRAFT = "draft"
    IN_APPROVAL = "in_approval"
    ACTIVATED = "activated"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class Contract(CanonicalRecord):
    """A signed contract that governs subscriptions."""

    entity: ClassVar[str] = "contract"
    account_id: CanonicalId
    contract_number: OptionalText = None
    status: ContractStatus
    start_date: date
    end_date: date | None = None
    term_months: Annotated[int, Field(ge=1)] | None = None
    currency: CurrencyCode


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Subscription(CanonicalRecord):
    """A recurring product under a contract (SBQQ__Subscription__c)."""

    entity: ClassVar[str] = "subscription"
    account_id: CanonicalId
    contract_id: CanonicalId | None = None
    product_id: CanonicalId
    quantity: Quantity
    net_price: Money
    currency: CurrencyCode
    start_date: date
    end_date: date | None = None
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE


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


ENTITIES: dict[str, type[CanonicalRecord]] = {
    model.entity: model
    for model in (
        Account,
        Contact,
        Product,
        PriceBookEntry,
        Quote,
        QuoteLine,
        Order,
        OrderLine,
        Contract,
        Subscription,
        Invoice,
        InvoiceLine,
        Payment,
        PaymentApplication,
        CreditMemo,
    )
}


def model_for(entity: str) -> type[CanonicalRecord]:
    """The canonical model class for an entity name such as ``"order_line"``."""
    try:
        return ENTITIES[entity]
    except KeyError:
        raise KeyError(f"unknown canonical entity {entity!r}; known: {sorted(ENTITIES)}") from None
