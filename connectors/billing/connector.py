"""Billing REST connector: idempotent writes by external id, incremental reads, classified errors.

Three seams, composed rather than inherited:

- :class:`~connectors.billing.http.BillingHttpClient` owns the ``requests.Session``: auth
  (API key as bearer or basic, OAuth 2.0 client credentials), CA bundle, timeouts, the shared
  tenacity retry policy and the classification of HTTP failures.
- a :class:`BillingProfile` owns the wire format: the generic JSON profile configured by a YAML
  file (:class:`~connectors.billing.json_profile.JsonProfile`) or the built-in Stripe-compatible
  one (:class:`~connectors.billing.stripe.profile.StripeProfile`), chosen by ``billing.profile``.
- :class:`BillingConnector` implements the connector protocol on top of the two.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from config.loader import ConfigCheck
from config.settings import BillingSettings, RetrySettings
from connectors.base import (
    Cursor,
    DeleteResult,
    Page,
    RawRecord,
    ReadSpec,
    WriteResult,
    WriteSpec,
)
from connectors.billing.auth import Clock
from connectors.billing.http import ApiRequest, BillingHttpClient, api_error
from connectors.billing.json_profile import JsonProfile, idempotency_key
from connectors.billing.profile_file import load_profile
from connectors.billing.stripe.client import StripeHttpClient
from connectors.billing.stripe.deletes import refuse_deletes_stripe_cannot_do
from connectors.billing.stripe.events import probe_events
from connectors.billing.stripe.lookup import LookupChoice
from connectors.billing.stripe.profile import EXISTING_ID_KEY, StripeProfile
from connectors.billing.stripe.terms import OrderTerms
from connectors.billing.writes import BillingWriter, RecordWriter
from connectors.errors import ConfigError
from connectors.retry import Sleep

__all__ = [
    "CONFIG_CHECKS",
    "EXISTING_ID_KEY",
    "ApiRequest",
    "BillingConnector",
    "BillingHttpClient",
    "BillingProfile",
    "JsonProfile",
    "StripeProfile",
    "api_error",
    "idempotency_key",
]

SYSTEM = "billing"

# What the profiles check in a configuration as it loads (``load_settings(..., checks=)``); each
# check looks at ``billing.profile`` itself and passes configurations of other profiles.
CONFIG_CHECKS: tuple[ConfigCheck, ...] = (refuse_deletes_stripe_cannot_do,)


class BillingProfile(RecordWriter, Protocol):
    """The wire format of one flavour of billing API."""

    def read(
        self, client: BillingHttpClient, collection: str, since: Cursor | None, page_size: int
    ) -> Iterator[Page]:
        """Pages of records changed strictly after ``since``, oldest first."""
        ...

    def delete_record(
        self, client: BillingHttpClient, collection: str, external_id: str, target_id: str
    ) -> DeleteResult:
        """Delete one record; already gone is ALREADY_DELETED, a refusal REJECTED."""
        ...

    def fetch_records(
        self, client: BillingHttpClient, collection: str, record_ids: Sequence[str]
    ) -> list[RawRecord]:
        """The records with these ids as they are now; missing ones left out."""
        ...


def profile_for(settings: BillingSettings) -> BillingProfile:
    """The profile ``settings`` ask for (a profile file is validated here, once)."""
    if settings.profile == "stripe":
        return StripeProfile(settings.lookup, OrderTerms(days_until_due=settings.days_until_due))
    return JsonProfile(load_profile(settings.profile_file) if settings.profile_file else None)


class BillingConnector:
    """Connector for a billing REST API.

    ``wait`` replaces ``time.sleep`` between retries and ``clock`` the OAuth token clock; tests
    pass recorders and fakes and never sleep.
    """

    system = SYSTEM

    def __init__(
        self,
        settings: BillingSettings,
        retry: RetrySettings,
        *,
        wait: Sleep | None = None,
        profile: BillingProfile | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._profile = profile or profile_for(settings)
        stripe = isinstance(self._profile, StripeProfile)
        client_class = StripeHttpClient if stripe else BillingHttpClient
        self._client = client_class(settings, retry, sleep=wait, clock=clock)
        self._writer = BillingWriter(self._profile, self._client, settings.max_concurrency)
        self._page_size = settings.page_size
        self._lookup: LookupChoice | None = None

    @property
    def last_wait_seconds(self) -> float | None:
        """The last backoff the retry policy asked for (a honoured Retry-After shows here)."""
        return self._client.last_wait_seconds

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._client.requests_sent

    @property
    def api_calls(self) -> int:
        """API calls so far for the run summary: every request, retries, list and search pages
        and OAuth token requests included."""
        return self._client.api_calls

    @property
    def lookup_choice(self) -> LookupChoice | None:
        """How the Stripe profile finds objects without a stored id, once :meth:`check` ran."""
        return self._lookup

    def check(self) -> None:
        """One authenticated, cheap call: the first page of customers.

        The Stripe profile then settles ``billing.lookup`` (probing ``/v1/customers/search``
        for ``auto``), so a server without Stripe's Search API shows before the first run.
        """
        next(iter(self._profile.read(self._client, "customers", None, 1)), None)
        if isinstance(self._profile, StripeProfile):
            self._lookup = self._profile.choose_lookup(self._client)

    def check_events(self) -> bool:
        """For the Stripe profile, one ``GET /v1/events`` (its billing reads follow events); True
        when read, False for a profile without events. Raises AuthError naming the permission
        a restricted key lacks."""
        if not isinstance(self._profile, StripeProfile):
            return False
        probe_events(self._client)
        return True

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Create or update each payload by external id; one bad record never stops the batch.

        Batches where the profile has a batch endpoint, else one call per record; up to
        ``billing.max_concurrency`` calls at once; results in the payloads' order.
        """
        return self._writer.write(spec, payloads)

    def delete(self, spec: WriteSpec, target_ids: Sequence[str]) -> list[DeleteResult]:
        """Delete each record; one refused record never stops the batch."""
        external_ids = {target: external for external, target in spec.known_target_ids.items()}
        return [
            self._profile.delete_record(
                self._client, spec.object_name, external_ids.get(target_id, target_id), target_id
            )
            for target_id in target_ids
        ]

    @property
    def fetch_key(self) -> str | None:
        """What :meth:`fetch` takes: revbridge's external ids (json profile); None for Stripe."""
        return "external_id" if isinstance(self._profile, JsonProfile) else None

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """The records as they are now, missing ones left out: by revbridge's external id (json
        profile) or by Stripe id (Stripe profile); one GET per record, as neither API batches.
        """
        return self._profile.fetch_records(self._client, spec.object_name, record_ids)

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """Yield pages of records changed strictly after ``since``, oldest first."""
        if spec.until is not None:
            raise ConfigError(
                f"backfills of {spec.object_name} up to a date are not supported for billing "
                "yet; run the backfill without --until",
                system=SYSTEM,
            )
        return self._profile.read(self._client, spec.object_name, since, self._page_size)

    def close(self) -> None:
        """Release the HTTP sessions."""
        self._client.close()
