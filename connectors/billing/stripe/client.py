"""The billing HTTP client as the Stripe profile uses it: pinned to one Stripe API version.

Stripe answers each request in the account's default API version unless the request names one
in ``Stripe-Version``; an account owner upgrading that default would change the object shapes
under the shipped mappings. Every request of the Stripe profile names
:data:`~connectors.billing.stripe.profile.STRIPE_API_VERSION`.
"""

from __future__ import annotations

from config.settings import BillingSettings, RetrySettings
from connectors.billing.auth import Clock
from connectors.billing.http import BillingHttpClient
from connectors.billing.stripe.profile import STRIPE_API_VERSION
from connectors.retry import Sleep

VERSION_HEADER = "Stripe-Version"


class StripeHttpClient(BillingHttpClient):
    """:class:`BillingHttpClient` whose every request carries ``Stripe-Version``."""

    def __init__(
        self,
        settings: BillingSettings,
        retry: RetrySettings,
        *,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, retry, sleep=sleep, clock=clock)
        # The session's headers go with every request it sends, retries included.
        self._session.headers[VERSION_HEADER] = STRIPE_API_VERSION
