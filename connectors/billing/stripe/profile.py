"""The built-in Stripe-compatible billing profile: what the connector calls for Stripe.

Writes go through :mod:`connectors.billing.stripe.objects` (single objects) and
:mod:`connectors.billing.stripe.orders` (an order as a subscription plus invoice items); reads
through :mod:`connectors.billing.stripe.read`. See :mod:`connectors.billing.stripe.objects` for
how records are found without an upsert by external id, and how idempotency keys are derived,
:mod:`connectors.billing.stripe.lookup` for ``billing.lookup``, and
:mod:`connectors.billing.stripe.changes` for how changed invoices are read through events. One
profile serves one connector, that is one run: the objects it found or created are remembered
for that run.

Every request names the API version the profile and the shipped Stripe mappings are written
against (:data:`STRIPE_API_VERSION`, the version of the OpenAPI spec the tests hold requests
to): a Stripe account's default version, which its owner may upgrade, cannot change the shapes
the mappings read (invoice lines with ``price``, charges with ``invoice``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from config.settings import BillingLookup
from connectors.base import Cursor, DeleteResult, Page, RawRecord, WriteResult
from connectors.billing.http import BillingHttpClient
from connectors.billing.stripe.amendments import SubscriptionLocks
from connectors.billing.stripe.changes import Clock, read_changes
from connectors.billing.stripe.deletes import delete_stripe_object
from connectors.billing.stripe.events import WATCHED
from connectors.billing.stripe.lookup import LookupChoice, StripeLookup
from connectors.billing.stripe.objects import EXISTING_ID_KEY, StripeObjects
from connectors.billing.stripe.orders import write_order
from connectors.billing.stripe.read import fetch_stripe_objects, read_stripe_list
from connectors.billing.stripe.terms import OrderTerms

__all__ = ["EXISTING_ID_KEY", "STRIPE_API_VERSION", "StripeProfile"]

# Stripe's API version of reference/stripe-openapi/spec3.json; sent as ``Stripe-Version``.
STRIPE_API_VERSION = "2020-08-27"


class StripeProfile:
    """Stripe's wire format for the billing connector (writes and incremental reads)."""

    def __init__(
        self,
        lookup: BillingLookup = "auto",
        terms: OrderTerms | None = None,
        *,
        clock: Clock = time.time,
    ) -> None:
        self._lookup = StripeLookup(lookup)
        self._terms = terms or OrderTerms()
        self._amending = SubscriptionLocks()
        # Ages the event half of a read's position (Stripe keeps events 30 days).
        self._clock = clock

    def choose_lookup(self, client: BillingHttpClient) -> LookupChoice:
        """How this run finds objects it has no id for (probes the server for ``auto``)."""
        return self._lookup.choose(client)

    def write_record(
        self,
        client: BillingHttpClient,
        collection: str,
        external_id: str,
        payload: Mapping[str, Any],
        write_token: str,
    ) -> WriteResult:
        """Write one canonical record's payload; orders become a subscription + invoice items."""
        existing = payload.get(EXISTING_ID_KEY)
        params = {k: v for k, v in payload.items() if k != EXISTING_ID_KEY}
        objects = StripeObjects(client, self._lookup)
        if collection == "orders":
            return write_order(
                objects, external_id, params, write_token, existing, self._terms, self._amending
            )
        return objects.upsert(collection, external_id, params, write_token, existing)

    def delete_record(
        self, client: BillingHttpClient, collection: str, external_id: str, target_id: str
    ) -> DeleteResult:
        """Delete the Stripe object by its id, where Stripe allows deleting that kind."""
        return delete_stripe_object(client, collection, target_id)

    def fetch_records(
        self, client: BillingHttpClient, collection: str, object_ids: Sequence[str]
    ) -> list[RawRecord]:
        """The objects with these Stripe ids as they are now; missing ones left out."""
        return fetch_stripe_objects(client, collection, object_ids)

    def read(
        self, client: BillingHttpClient, collection: str, since: Cursor | None, page_size: int
    ) -> Iterator[Page]:
        """Pages of objects created strictly after ``since``, oldest first, money as Decimal;
        for invoices, payments and credit notes first those Stripe's events say changed."""
        if collection in WATCHED:
            return read_changes(client, collection, since, page_size, self._clock)
        return read_stripe_list(client, collection, since, page_size)
