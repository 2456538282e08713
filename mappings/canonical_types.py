"""The building blocks of the canonical model: money, currency, ids, and what every record carries.

Money is ``Decimal`` plus an ISO 4217 currency; records refer to each other by canonical id,
never by one system's id.
"""

from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
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
