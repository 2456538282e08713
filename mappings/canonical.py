"""The canonical revenue data model: one pydantic model per record type of quote-to-cash.

Money is ``Decimal`` plus an ISO 4217 currency, dates are dates, statuses are enums, and records
refer to each other by canonical id, never by one system's id. Every record carries its
canonical id, its source (system, object, id) and the source's last-modified time. The
building blocks are in :mod:`mappings.canonical_types`, the receivables (invoices, payments,
credit memos) in :mod:`mappings.receivables`, the subscription lifecycle's (order types, charge
terms, signed quantities) in :mod:`mappings.lifecycle_types`; this module has the CPQ side and
the registry.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from mappings.canonical_types import (
    Address,
    CanonicalId,
    CanonicalRecord,
    CurrencyCode,
    Money,
    Name,
    NonNegativeMoney,
    OptionalText,
    PositiveMoney,
    Quantity,
    SourceRef,
)
from mappings.lifecycle_types import (
    BillingFrequency,
    BillingType,
    ChargedRecord,
    ChargeType,
    LifecycleEvent,
    NonNegativeQuantity,
    SignedQuantity,
    SubscriptionType,
    refuse_decrease_outside_amendment,
    refuse_unlinked_decrease,
)
from mappings.receivables import (
    CreditMemo,
    CreditMemoStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentApplication,
    PaymentMethod,
    PaymentStatus,
)

# Re-exported: callers take every canonical name from this module.
__all__ = [
    "Address",
    "BillingFrequency",
    "BillingType",
    "CanonicalId",
    "CanonicalRecord",
    "ChargeType",
    "CreditMemo",
    "CreditMemoStatus",
    "CurrencyCode",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "LifecycleEvent",
    "Money",
    "Name",
    "NonNegativeMoney",
    "OptionalText",
    "Payment",
    "PaymentApplication",
    "PaymentMethod",
    "PaymentStatus",
    "PositiveMoney",
    "Quantity",
    "SignedQuantity",
    "SourceRef",
    "SubscriptionType",
]


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


class QuoteLine(ChargedRecord):
    """One product on a CPQ quote.

    On an amendment quote CPQ shows each line's quantity *after* the change, beside
    ``prior_quantity`` (what the subscription had): 0 there removes the product, so zero is
    valid only on a line with a prior quantity.
    """

    entity: ClassVar[str] = "quote_line"
    quote_id: CanonicalId
    product_id: CanonicalId
    quantity: Money
    prior_quantity: NonNegativeQuantity | None = None
    list_price: NonNegativeMoney
    net_price: Money
    discount_percent: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(0)
    total: Money
    # The subscription this line amends (CPQ: SBQQ__UpgradedSubscription__c) or renews.
    upgraded_subscription_id: CanonicalId | None = None
    renewed_subscription_id: CanonicalId | None = None

    @model_validator(mode="after")
    def _quantity_fits_the_line(self) -> QuoteLine:
        if self.quantity == 0 and not self.prior_quantity:
            raise PydanticCustomError(
                "zero_quantity",
                "quote_line.quantity is 0 and the line has no prior quantity: only an "
                "amendment line may bring a product's quantity to 0",
            )
        revises = bool(self.upgraded_subscription_id or self.renewed_subscription_id)
        refuse_unlinked_decrease(
            "quote_line", self.quantity, revises, "an amendment line that revises a subscription"
        )
        return self


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
    quote_type: LifecycleEvent = LifecycleEvent.NEW
    lines: list[QuoteLine] = Field(default_factory=list)

    @model_validator(mode="after")
    def _only_amendments_lower_quantities(self) -> Quote:
        refuse_decrease_outside_amendment(
            "quote", self.quote_type, [line.quantity for line in self.lines]
        )
        return self


class OrderStatus(StrEnum):
    DRAFT = "draft"
    ACTIVATED = "activated"
    CANCELLED = "cancelled"


class OrderLine(ChargedRecord):
    """One product on an order (OrderItem, sales order item line).

    On an amendment order the quantity is the change (CPQ writes the delta): negative for a
    downgrade or a cancellation, which must name the line or subscription it revises.
    """

    entity: ClassVar[str] = "order_line"
    order_id: CanonicalId
    product_id: CanonicalId
    line_number: Annotated[int, Field(ge=1)] | None = None
    quantity: SignedQuantity
    unit_price: NonNegativeMoney
    total: Money
    start_date: date | None = None
    end_date: date | None = None
    # What this line changes (CPQ: SBQQ__RevisedOrderProduct__c, the amended subscription).
    revised_order_line_id: CanonicalId | None = None
    revised_subscription_id: CanonicalId | None = None
    # The revised order product's line number (its order's lines carry theirs), and the
    # subscription's quantity after this change (0 when it cancels it).
    revised_line_number: Annotated[int, Field(ge=1)] | None = None
    resulting_quantity: NonNegativeQuantity | None = None

    @model_validator(mode="after")
    def _decrease_names_what_it_revises(self) -> OrderLine:
        revises = bool(
            self.revised_order_line_id or self.revised_subscription_id or self.revised_line_number
        )
        refuse_unlinked_decrease(
            "order_line", self.quantity, revises, "an amendment line that revises a subscription"
        )
        return self


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
    order_type: LifecycleEvent = LifecycleEvent.NEW
    # The order an amendment or cancellation changes (CPQ: its contract's original order).
    revised_order_id: CanonicalId | None = None
    lines: list[OrderLine] = Field(default_factory=list)

    @model_validator(mode="after")
    def _only_amendments_lower_quantities(self) -> Order:
        refuse_decrease_outside_amendment(
            "order", self.order_type, [line.quantity for line in self.lines]
        )
        return self


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
    # The contract this one renews, and the date amendments co-terminate to (CPQ amends to
    # the contract's end unless told otherwise).
    renewed_contract_id: CanonicalId | None = None
    co_termination_date: date | None = None


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Subscription(ChargedRecord):
    """A recurring product under a contract (SBQQ__Subscription__c).

    CPQ records an amendment as another subscription record holding the delta and linked to
    the original (``revised_subscription_id``); the current state is their sum
    (:mod:`mappings.subscription_state`).
    """

    entity: ClassVar[str] = "subscription"
    account_id: CanonicalId
    contract_id: CanonicalId | None = None
    product_id: CanonicalId
    quantity: SignedQuantity
    net_price: Money
    currency: CurrencyCode
    start_date: date
    end_date: date | None = None
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    charge_type: ChargeType | None = ChargeType.RECURRING
    revised_subscription_id: CanonicalId | None = None
    renewed_on: date | None = None
    terminated_on: date | None = None

    @model_validator(mode="after")
    def _decrease_names_what_it_revises(self) -> Subscription:
        refuse_unlinked_decrease(
            "subscription",
            self.quantity,
            self.revised_subscription_id is not None,
            "an amendment record that revises a subscription",
        )
        return self


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
