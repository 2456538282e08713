"""The subscription lifecycle in the canonical model: what kind of sale a record is, how it
charges, and the checks that keep a signed quantity honest.

Salesforce CPQ writes an amendment as the *delta*: an upsell is a new order product and a new
subscription record with a positive quantity, a downgrade or a cancellation one with a
negative quantity, each linked to the record it revises. So a quantity here is signed, never
zero, and negative only on a record that names what it revises; anything else is a data error
whose reason says why (the error queue shows it).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from mappings.canonical_types import CanonicalRecord, Money


class LifecycleEvent(StrEnum):
    """What an order or quote does to the customer's subscriptions (CPQ ``SBQQ__Type__c``)."""

    NEW = "new"
    AMENDMENT = "amendment"
    RENEWAL = "renewal"
    CANCELLATION = "cancellation"


# Only these may carry lines that lower a quantity.
LOWERING_EVENTS = frozenset({LifecycleEvent.AMENDMENT, LifecycleEvent.CANCELLATION})


class ChargeType(StrEnum):
    """How a line charges: once, every period, or by metered use."""

    ONE_TIME = "one_time"
    RECURRING = "recurring"
    USAGE = "usage"


class BillingFrequency(StrEnum):
    """How often a recurring charge is invoiced (CPQ's picklist values)."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    INVOICE_PLAN = "invoice_plan"


class BillingType(StrEnum):
    """Whether a period is invoiced at its start (advance) or its end (arrears)."""

    ADVANCE = "advance"
    ARREARS = "arrears"


class SubscriptionType(StrEnum):
    """Whether a subscription renews, ends, or runs until cancelled."""

    RENEWABLE = "renewable"
    ONE_TIME = "one_time"
    EVERGREEN = "evergreen"


def _check_nonzero(quantity: Decimal) -> Decimal:
    if quantity == 0:
        raise PydanticCustomError(
            "zero_quantity",
            "quantity is 0: a line or subscription always adds or removes something; an "
            "amendment that changes nothing has no record",
        )
    return quantity


# Positive on what is bought, the (signed) delta on an amendment record, never zero.
SignedQuantity = Annotated[Money, AfterValidator(_check_nonzero)]
TermMonths = Annotated[int, Field(ge=1)]
# CPQ's SBQQ__ProrateMultiplier__c: the share of a billing period the record covers (0.5 for a
# six-month amendment of an annual price), so it may exceed 1 on long terms but never be negative.
ProrationMultiplier = Annotated[Money, Field(ge=0)]
NonNegativeQuantity = Annotated[Money, Field(ge=0)]


class ChargedRecord(CanonicalRecord):
    """The charge terms quote lines, order lines and subscriptions share.

    All optional: a mapping that says nothing of them keeps today's records valid.
    """

    charge_type: ChargeType | None = None
    billing_frequency: BillingFrequency | None = None
    billing_type: BillingType | None = None
    term_months: TermMonths | None = None
    proration_multiplier: ProrationMultiplier | None = None
    subscription_type: SubscriptionType | None = None


def shown_quantity(quantity: Decimal) -> str:
    """A quantity as an admin wrote it: ``-5`` for ``-5.0``, never ``-5E+1``."""
    return format(quantity.normalize(), "f")


def refuse_unlinked_decrease(entity: str, quantity: Decimal, revises: bool, what: str) -> None:
    """Raise when ``quantity`` is negative on a record that revises nothing.

    ``what`` names the records that may lower a quantity, for the reason the admin reads.
    """
    if quantity < 0 and not revises:
        raise PydanticCustomError(
            "quantity_revises_nothing",
            "{entity}.quantity is {quantity} but the {noun} revises nothing: only {what} may "
            "lower a quantity",
            {
                "entity": entity,
                "quantity": shown_quantity(quantity),
                "noun": "line" if entity.endswith("line") else "record",
                "what": what,
            },
        )


def refuse_decrease_outside_amendment(
    entity: str, event: LifecycleEvent, line_quantities: list[Decimal]
) -> None:
    """Raise when a new or renewal order (or quote) carries a line that lowers a quantity."""
    if event in LOWERING_EVENTS:
        return
    for position, quantity in enumerate(line_quantities):
        if quantity < 0:
            raise PydanticCustomError(
                "decrease_outside_amendment",
                "{entity} is a {event} {entity} but its line {position} has quantity "
                "{quantity}: only an amendment or cancellation lowers a quantity",
                {
                    "entity": entity,
                    "event": event.value,
                    "position": position + 1,
                    "quantity": shown_quantity(quantity),
                },
            )
