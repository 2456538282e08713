"""Reading what a target holds now: every object of one mapping, at the largest page size.

A reconcile reads whole objects, not changes, so it asks for as few pages as each platform
allows (Salesforce queryAll 2,000, NetSuite search 1,000, the generic billing API 1,000,
Stripe lists 100) and only the fields the mapping writes. It never writes.
"""

from __future__ import annotations

from collections.abc import Iterator

from config.settings import Settings
from connectors.base import Connector, RawRecord, ReadSpec
from connectors.billing.stripe.read import readable as stripe_list
from connectors.errors import ConfigError
from mappings.mapping_set import EntityMapping

SALESFORCE_LARGEST_PAGE = 2000
ERP_LARGEST_PAGE = 1000
BILLING_JSON_LARGEST_PAGE = 1000
STRIPE_LARGEST_PAGE = 100

# The field each platform orders whole reads by; a target mapping names none (it is written).
_ORDER_FIELDS = {"salesforce": "SystemModstamp", "erp": "lastModifiedDate", "billing": "updated"}


def reading_settings(settings: Settings) -> Settings:
    """``settings`` with each connector's page size at its platform's largest."""
    billing_page = (
        STRIPE_LARGEST_PAGE if settings.billing.profile == "stripe" else BILLING_JSON_LARGEST_PAGE
    )
    return settings.model_copy(
        update={
            "salesforce": settings.salesforce.model_copy(
                update={"page_size": SALESFORCE_LARGEST_PAGE}
            ),
            "billing": settings.billing.model_copy(update={"page_size": billing_page}),
            "erp": settings.erp.model_copy(update={"search_page_size": ERP_LARGEST_PAGE}),
        }
    )


def listable(mapping: EntityMapping, settings: Settings) -> bool:
    """False for objects the connector cannot list whole yet, which a reconcile reports as
    skipped: NetSuite custom records (its search by type covers standard records only), and
    for the Stripe profile what Stripe has no list of (an order is a subscription there)."""
    if mapping.system == "erp":
        return not mapping.object_name.startswith("customrecord")
    if mapping.system == "billing" and settings.billing.profile == "stripe":
        try:
            stripe_list(mapping.object_name)
        except ConfigError:
            return False
    return True


def read_fields(mapping: EntityMapping) -> tuple[str, ...]:
    """The mapped fields a list read can select: Salesforce child relationships (``__r``),
    which revbridge writes as records of their own, are not columns of the parent."""
    if mapping.system != "salesforce":
        return mapping.read_fields
    return tuple(name for name in mapping.read_fields if not name.endswith("__r"))


def target_pages(connector: Connector, mapping: EntityMapping) -> Iterator[list[RawRecord]]:
    """Every object of ``mapping``'s target object, page by page, with the mapped fields."""
    spec = ReadSpec(
        object_name=mapping.object_name,
        fields=read_fields(mapping),
        key_field=mapping.key_field,
        cursor_field=_ORDER_FIELDS.get(mapping.system, "SystemModstamp"),
        filter=mapping.filter,
    )
    for page in connector.read(spec, None):
        yield page.records
