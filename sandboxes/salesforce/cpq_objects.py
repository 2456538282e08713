"""The sandbox org's object metadata: standard revenue objects, Salesforce CPQ and Billing.

A compact subset of the real describe shape, with the CPQ managed package's real API names
(``SBQQ__Quote__c``, ``SBQQ__QuoteLine__c`` under ``SBQQ__LineItems__r``,
``SBQQ__Subscription__c``) and Salesforce Billing's (``blng__Invoice__c`` with
``blng__InvoiceLine__c`` under ``blng__InvoiceInvoiceLines__r``, ``blng__Payment__c``,
``blng__CreditNote__c``), so the product never depends on reference files at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

CURRENCY_RATES = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79")}


@dataclass(frozen=True)
class FieldDef:
    """One field's metadata, named as in Salesforce's describe."""

    name: str
    type: str
    updateable: bool = True
    createable: bool = True
    nillable: bool = True
    external_id: bool = False
    length: int = 0
    precision: int = 0
    scale: int = 0
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    defaulted_on_create: bool = False
    calculated: bool = False
    # Components of a compound field (BillingAddress): (component key, stored field name).
    components: tuple[tuple[str, str], ...] = ()

    @property
    def required(self) -> bool:
        """True when an insert must supply the field."""
        return self.createable and not self.nillable and not self.defaulted_on_create


@dataclass(frozen=True)
class ChildRelationship:
    """A child relationship usable in a SOQL subquery (``OrderItems`` on Order)."""

    name: str
    child_object: str
    field: str


@dataclass(frozen=True)
class ObjectDef:
    """One sObject's metadata."""

    name: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    children: tuple[ChildRelationship, ...] = ()

    @cached_property
    def _by_lower_name(self) -> dict[str, FieldDef]:
        return {f.name.lower(): f for f in self.fields}

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name`` (SOQL names are case-insensitive)."""
        return self._by_lower_name.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name is ``name``."""
        lowered = name.lower()
        return next(
            (f for f in self.fields if (f.relationship_name or "").lower() == lowered), None
        )

    def child(self, name: str) -> ChildRelationship | None:
        """The child relationship called ``name``."""
        return next((c for c in self.children if c.name.lower() == name.lower()), None)


def _text(name: str, length: int = 255, **extra: Any) -> FieldDef:
    return FieldDef(name, extra.pop("type", "string"), length=length, **extra)


def _money(name: str, **extra: Any) -> FieldDef:
    return FieldDef(name, extra.pop("type", "currency"), precision=18, scale=2, **extra)


def _number(name: str, precision: int = 12, scale: int = 2, **extra: Any) -> FieldDef:
    return FieldDef(name, extra.pop("type", "double"), precision=precision, scale=scale, **extra)


def _ref(name: str, target: str, relationship: str, **extra: Any) -> FieldDef:
    return FieldDef(
        name, "reference", length=18, reference_to=(target,), relationship_name=relationship,
        **extra,
    )  # fmt: skip


def _readonly(name: str, kind: str, **extra: Any) -> FieldDef:
    return FieldDef(name, kind, updateable=False, createable=False, **extra)


def _formula(name: str, kind: str, **extra: Any) -> FieldDef:
    return _readonly(name, kind, calculated=True, **extra)


def _picklist(name: str, *values: str, **extra: Any) -> FieldDef:
    return FieldDef(name, "picklist", length=255, picklist=values, **extra)


def _address(prefix: str) -> tuple[FieldDef, ...]:
    """The five address components and their read-only compound field (``BillingAddress``)."""
    parts = (("street", "Street", 255), ("city", "City", 40), ("state", "State", 80),
             ("postalCode", "PostalCode", 20), ("country", "Country", 80))  # fmt: skip
    components = tuple((key, f"{prefix}{suffix}") for key, suffix, _ in parts)
    return (
        *(_text(f"{prefix}{suffix}", length, type="textarea" if key == "street" else "string")
          for key, suffix, length in parts),
        _readonly(f"{prefix}Address", "address", components=components),
    )  # fmt: skip


_SYSTEM_FIELDS = (
    _readonly("Id", "id", nillable=False, length=18, defaulted_on_create=True),
    _readonly("IsDeleted", "boolean", nillable=False, defaulted_on_create=True),
    _readonly("CreatedDate", "datetime", nillable=False, defaulted_on_create=True),
    _readonly("LastModifiedDate", "datetime", nillable=False, defaulted_on_create=True),
    _readonly("SystemModstamp", "datetime", nillable=False, defaulted_on_create=True),
)
_CURRENCY = FieldDef(
    "CurrencyIsoCode", "picklist", length=3, picklist=tuple(CURRENCY_RATES),
    defaulted_on_create=True, nillable=False,
)  # fmt: skip
_REVBRIDGE_ID = _text("Revbridge_Id__c", 80, external_id=True)
_ORDER_STATUSES = ("Draft", "Activated", "Cancelled")
_BILLING_FREQUENCIES = ("Monthly", "Quarterly", "Semiannual", "Annual", "Invoice Plan")
_CHARGE_TYPES = ("One-Time", "Recurring", "Usage")
_BILLING_TYPES = ("Advance", "Arrears")
_SUBSCRIPTION_TYPES = ("Renewable", "One-time", "Evergreen")
# CPQ's order types follow the quote's; an org may add Cancellation.
_ORDER_TYPES = ("New", "Amendment", "Renewal", "Cancellation")


def _charge_terms() -> tuple[FieldDef, ...]:
    """The charge terms CPQ puts on quote lines, order products and subscriptions."""
    return (
        _picklist("SBQQ__ChargeType__c", *_CHARGE_TYPES),
        _picklist("SBQQ__BillingFrequency__c", *_BILLING_FREQUENCIES),
        _picklist("SBQQ__BillingType__c", *_BILLING_TYPES),
        _picklist("SBQQ__SubscriptionType__c", *_SUBSCRIPTION_TYPES),
        _number("SBQQ__ProrateMultiplier__c", 18, 4),
    )


_AUTO_NAME = {"nillable": False, "defaulted_on_create": True, "length": 80}

_STANDARD = (
    ObjectDef("Account", "001", (
        *_SYSTEM_FIELDS, _text("Name", nillable=False), _text("AccountNumber", 40),
        _CURRENCY, *_address("Billing"), _text("Phone", 40, type="phone"),
        _text("Website", type="url"), _text("Type", 40, type="picklist"), _REVBRIDGE_ID,
    ), (ChildRelationship("Contacts", "Contact", "AccountId"),)),
    ObjectDef("Contact", "003", (
        *_SYSTEM_FIELDS, _ref("AccountId", "Account", "Account"), _text("FirstName", 40),
        _text("LastName", 80, nillable=False), _text("Email", 80, type="email"),
        _text("Phone", 40, type="phone"), _text("Title", 128), *_address("Mailing"),
        _CURRENCY, _REVBRIDGE_ID,
    )),
    ObjectDef("Product2", "01t", (
        *_SYSTEM_FIELDS, _text("Name", nillable=False), _text("ProductCode"),
        _text("Description", 4000, type="textarea"), _text("Family", 40, type="picklist"),
        FieldDef("IsActive", "boolean", nillable=False, defaulted_on_create=True),
        _picklist("SBQQ__ChargeType__c", *_CHARGE_TYPES),
        _picklist("SBQQ__BillingFrequency__c", *_BILLING_FREQUENCIES),
        _number("SBQQ__SubscriptionTerm__c", 5, 0), _REVBRIDGE_ID,
    )),
    ObjectDef("PricebookEntry", "01u", (
        *_SYSTEM_FIELDS, _ref("Product2Id", "Product2", "Product2", nillable=False,
                              updateable=False),
        _ref("Pricebook2Id", "Pricebook2", "Pricebook2", nillable=False, updateable=False),
        _money("UnitPrice", nillable=False), _CURRENCY,
        FieldDef("IsActive", "boolean", nillable=False, defaulted_on_create=True),
    )),
    ObjectDef("Order", "801", (
        *_SYSTEM_FIELDS, _ref("AccountId", "Account", "Account", nillable=False),
        _readonly("OrderNumber", "string", length=30, nillable=False, defaulted_on_create=True),
        FieldDef("Status", "picklist", length=40, nillable=False, picklist=_ORDER_STATUSES),
        _picklist("Type", *_ORDER_TYPES),
        FieldDef("EffectiveDate", "date", nillable=False), FieldDef("EndDate", "date"),
        _CURRENCY, _formula("TotalAmount", "currency", precision=18, scale=2),
        _ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r"),
        _ref("ContractId", "Contract", "Contract"),
        FieldDef("SBQQ__Contracted__c", "boolean", nillable=False, defaulted_on_create=True),
        _picklist("SBQQ__PaymentTerm__c", "Due on receipt", "Net 15", "Net 30", "Net 60"),
        _REVBRIDGE_ID,
    ), (ChildRelationship("OrderItems", "OrderItem", "OrderId"),)),
    ObjectDef("OrderItem", "802", (
        *_SYSTEM_FIELDS, _ref("OrderId", "Order", "Order", nillable=False, updateable=False),
        _ref("Product2Id", "Product2", "Product2", updateable=False),
        _ref("PricebookEntryId", "PricebookEntry", "PricebookEntry", nillable=False,
             updateable=False),
        _readonly("OrderItemNumber", "string", length=30, nillable=False,
                  defaulted_on_create=True),
        FieldDef("Quantity", "double", nillable=False, precision=18, scale=2),
        _money("UnitPrice", nillable=False),
        _formula("TotalPrice", "currency", precision=18, scale=2),
        FieldDef("ServiceDate", "date"), FieldDef("EndDate", "date"),
        _ref("SBQQ__QuoteLine__c", "SBQQ__QuoteLine__c", "SBQQ__QuoteLine__r"),
        *_charge_terms(), _number("SBQQ__SubscriptionTerm__c", 5, 0),
        _ref("SBQQ__RevisedOrderProduct__c", "OrderItem", "SBQQ__RevisedOrderProduct__r"),
        _ref("SBQQ__UpgradedSubscription__c", "SBQQ__Subscription__c",
             "SBQQ__UpgradedSubscription__r"),
        _picklist("SBQQ__ContractAction__c", "New", "Quantity Increase", "Quantity Decrease",
                  "Product Swap", "Renew", "Cancel"),
        FieldDef("SBQQ__TerminatedDate__c", "date"),
    )),
    ObjectDef("Contract", "800", (
        *_SYSTEM_FIELDS, _ref("AccountId", "Account", "Account", nillable=False),
        _readonly("ContractNumber", "string", length=30, nillable=False,
                  defaulted_on_create=True),
        _picklist("Status", "Draft", "In Approval Process", "Activated", nillable=False,
                  defaulted_on_create=True),
        FieldDef("StartDate", "date"), FieldDef("ContractTerm", "int", precision=4),
        _formula("EndDate", "date"), _CURRENCY,
        _ref("SBQQ__Order__c", "Order", "SBQQ__Order__r"),
        _ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r"),
        _number("SBQQ__RenewalTerm__c", 5, 0),
        FieldDef("SBQQ__RenewalForecast__c", "boolean", nillable=False,
                 defaulted_on_create=True),
        _REVBRIDGE_ID,
    ), (ChildRelationship("SBQQ__Subscriptions__r", "SBQQ__Subscription__c",
                          "SBQQ__Contract__c"),)),
)  # fmt: skip

_CPQ = (
    ObjectDef("SBQQ__Quote__c", "a0x", (
        *_SYSTEM_FIELDS, _readonly("Name", "string", **_AUTO_NAME),
        _ref("SBQQ__Account__c", "Account", "SBQQ__Account__r"),
        _ref("SBQQ__PrimaryContact__c", "Contact", "SBQQ__PrimaryContact__r"),
        _picklist("SBQQ__Status__c", "Draft", "In Review", "Approved", "Denied", "Presented",
                  "Accepted", "Rejected"),
        _picklist("SBQQ__Type__c", "Quote", "Renewal", "Amendment", "Re-Quote"),
        FieldDef("SBQQ__StartDate__c", "date"), FieldDef("SBQQ__EndDate__c", "date"),
        FieldDef("SBQQ__ExpirationDate__c", "date"),
        _number("SBQQ__SubscriptionTerm__c", 5, 0),
        _formula("SBQQ__ListAmount__c", "currency", precision=18, scale=2),
        _formula("SBQQ__NetAmount__c", "currency", precision=18, scale=2),
        FieldDef("SBQQ__Primary__c", "boolean", nillable=False, defaulted_on_create=True),
        FieldDef("SBQQ__Ordered__c", "boolean", nillable=False, defaulted_on_create=True),
        _picklist("SBQQ__PaymentTerms__c", "Due on receipt", "Net 15", "Net 30", "Net 45",
                  "Net 60", "Net 90"),
        _picklist("SBQQ__BillingFrequency__c", *_BILLING_FREQUENCIES), _CURRENCY,
        _REVBRIDGE_ID,
    ), (ChildRelationship("SBQQ__LineItems__r", "SBQQ__QuoteLine__c", "SBQQ__Quote__c"),)),
    ObjectDef("SBQQ__QuoteLine__c", "a0y", (
        *_SYSTEM_FIELDS, _readonly("Name", "string", **_AUTO_NAME),
        _ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", nillable=False,
             updateable=False),
        _ref("SBQQ__Product__c", "Product2", "SBQQ__Product__r"),
        _number("SBQQ__Number__c", 5, 0), _number("SBQQ__Quantity__c"),
        _money("SBQQ__ListPrice__c"), _money("SBQQ__NetPrice__c"),
        _number("SBQQ__Discount__c", 11, 2, type="percent"),
        _formula("SBQQ__NetTotal__c", "currency", precision=18, scale=2),
        FieldDef("SBQQ__StartDate__c", "date"), FieldDef("SBQQ__EndDate__c", "date"),
        _number("SBQQ__SubscriptionTerm__c", 5, 0), *_charge_terms(),
        _picklist("SBQQ__SubscriptionPricing__c", "Fixed Price", "Percent Of Total"),
        _number("SBQQ__PriorQuantity__c"),
        _ref("SBQQ__UpgradedSubscription__c", "SBQQ__Subscription__c",
             "SBQQ__UpgradedSubscription__r"),
        _ref("SBQQ__RenewedSubscription__c", "SBQQ__Subscription__c",
             "SBQQ__RenewedSubscription__r"),
        _formula("SBQQ__ProductCode__c", "string", length=255), _CURRENCY, _REVBRIDGE_ID,
    )),
    ObjectDef("SBQQ__Subscription__c", "a12", (
        *_SYSTEM_FIELDS, _readonly("Name", "string", **_AUTO_NAME),
        _ref("SBQQ__Account__c", "Account", "SBQQ__Account__r"),
        _ref("SBQQ__Contract__c", "Contract", "SBQQ__Contract__r"),
        _ref("SBQQ__Product__c", "Product2", "SBQQ__Product__r"),
        _ref("SBQQ__QuoteLine__c", "SBQQ__QuoteLine__c", "SBQQ__QuoteLine__r"),
        _ref("SBQQ__OrderProduct__c", "OrderItem", "SBQQ__OrderProduct__r"),
        _number("SBQQ__Quantity__c", nillable=False), _number("SBQQ__RenewalQuantity__c"),
        _money("SBQQ__ListPrice__c"), _money("SBQQ__NetPrice__c"),
        FieldDef("SBQQ__SubscriptionStartDate__c", "date"),
        FieldDef("SBQQ__SubscriptionEndDate__c", "date"),
        _formula("SBQQ__StartDate__c", "date"), _formula("SBQQ__EndDate__c", "date"),
        *_charge_terms(),
        _ref("SBQQ__RevisedSubscription__c", "SBQQ__Subscription__c",
             "SBQQ__RevisedSubscription__r"),
        FieldDef("SBQQ__RenewedDate__c", "date"), FieldDef("SBQQ__TerminatedDate__c", "date"),
        _formula("SBQQ__ProductName__c", "string", length=255), _CURRENCY, _REVBRIDGE_ID,
    )),
)  # fmt: skip

# Salesforce Billing: totals and balances are roll-ups and formulas the package computes, so
# what must travel from the ERP lands in writable Revbridge_* fields (an org adds them).
_BLNG_STATUSES = ("Draft", "Posted", "Cancelled")
_BILLING = (
    ObjectDef("blng__Invoice__c", "a2b", (
        *_SYSTEM_FIELDS, _readonly("Name", "string", **_AUTO_NAME),
        _ref("blng__Account__c", "Account", "blng__Account__r", nillable=False),
        _ref("blng__Order__c", "Order", "blng__Order__r"),
        _ref("blng__BillToContact__c", "Contact", "blng__BillToContact__r"),
        FieldDef("blng__InvoiceDate__c", "date", nillable=False),
        FieldDef("blng__DueDate__c", "date"), FieldDef("blng__TargetDate__c", "date"),
        _picklist("blng__InvoiceStatus__c", *_BLNG_STATUSES, "Rebilled", "Post In Progress",
                  "Error", nillable=False, defaulted_on_create=True),
        _formula("blng__Subtotal__c", "currency", precision=18, scale=2),
        _formula("blng__TaxAmount__c", "currency", precision=18, scale=2),
        _formula("blng__TotalAmount__c", "currency", precision=18, scale=2),
        _formula("blng__Balance__c", "currency", precision=18, scale=2),
        _text("blng__Notes__c", 32768, type="textarea"), _text("Revbridge_Number__c", 80),
        _money("Revbridge_Balance__c"), _CURRENCY, _REVBRIDGE_ID,
    ), (ChildRelationship("blng__InvoiceInvoiceLines__r", "blng__InvoiceLine__c",
                          "blng__Invoice__c"),)),
    ObjectDef("blng__InvoiceLine__c", "a2c", (
        *_SYSTEM_FIELDS, _text("Name", 80, nillable=False, defaulted_on_create=True),
        # Master-detail: set on insert only (not reparentable).
        _ref("blng__Invoice__c", "blng__Invoice__c", "blng__Invoice__r", nillable=False,
             updateable=False),
        _ref("blng__Product__c", "Product2", "blng__Product__r"),
        _ref("blng__OrderProduct__c", "OrderItem", "blng__OrderProduct__r"),
        _number("blng__Quantity__c", 18, 2), _money("blng__UnitPrice__c"),
        _money("blng__Subtotal__c"), _money("blng__TaxAmount__c"),
        _formula("blng__TotalAmount__c", "currency", precision=18, scale=2),
        FieldDef("blng__ChargeDate__c", "date"), FieldDef("blng__StartDate__c", "date"),
        FieldDef("blng__EndDate__c", "date"),
        _picklist("blng__InvoiceLineStatus__c", *_BLNG_STATUSES), _CURRENCY, _REVBRIDGE_ID,
    )),
    ObjectDef("blng__Payment__c", "a2d", (
        *_SYSTEM_FIELDS, _readonly("Name", "string", **_AUTO_NAME),
        _ref("blng__Account__c", "Account", "blng__Account__r", nillable=False),
        _ref("blng__Invoice__c", "blng__Invoice__c", "blng__Invoice__r"),
        _money("blng__Amount__c", nillable=False), FieldDef("blng__PaymentDate__c", "date"),
        _picklist("blng__Status__c", "Draft", "Posted", "Canceled"),
        _picklist("blng__PaymentType__c", "Credit Card", "ACH", "Wire", "Check", "Cash"),
        _formula("blng__Balance__c", "currency", precision=18, scale=2),
        _text("blng__Notes__c", 32768, type="textarea"), _CURRENCY, _REVBRIDGE_ID,
    ), (ChildRelationship("blng__PaymentAllocationInvoices__r",
                          "blng__PaymentAllocationInvoice__c", "blng__Payment__c"),)),
    # The part of a payment applied to one invoice; the package rolls live allocations up into
    # the invoice's and the payment's balances.
    ObjectDef("blng__PaymentAllocationInvoice__c", "a2f", (
        *_SYSTEM_FIELDS, _readonly("Name", "string", **_AUTO_NAME),
        _ref("blng__Payment__c", "blng__Payment__c", "blng__Payment__r", nillable=False,
             updateable=False),
        _ref("blng__Invoice__c", "blng__Invoice__c", "blng__Invoice__r", nillable=False),
        _money("blng__Amount__c", nillable=False),
        _picklist("blng__Type__c", "Allocation", "Unallocation"), _CURRENCY, _REVBRIDGE_ID,
    )),
    ObjectDef("blng__CreditNote__c", "a2e", (
        *_SYSTEM_FIELDS, _readonly("Name", "string", **_AUTO_NAME),
        _ref("blng__Account__c", "Account", "blng__Account__r", nillable=False),
        _ref("blng__RelatedInvoice__c", "blng__Invoice__c", "blng__RelatedInvoice__r"),
        FieldDef("blng__CreditNoteDate__c", "date", nillable=False),
        _picklist("blng__Status__c", *_BLNG_STATUSES),
        _formula("blng__TotalAmount__c", "currency", precision=18, scale=2),
        _formula("blng__Balance__c", "currency", precision=18, scale=2),
        _text("blng__Notes__c", 32768, type="textarea"), _text("Revbridge_Number__c", 80),
        _money("Revbridge_Amount__c"), _CURRENCY, _REVBRIDGE_ID,
    )),
)  # fmt: skip

OBJECTS: dict[str, ObjectDef] = {o.name: o for o in (*_STANDARD, *_CPQ, *_BILLING)}
