"""Billing connectors to a billing sandbox for the billing connector tests, closed afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from config.settings import BillingSettings, RetrySettings
from connectors.billing.connector import BillingConnector
from sandboxes.billing.sandbox import BillingSandbox

MakeConnector = Callable[..., BillingConnector]


@contextmanager
def connector_factory(
    sandbox: BillingSandbox, waits: list[float], **defaults: Any
) -> Iterator[MakeConnector]:
    """Build connectors to ``sandbox`` (its Stripe API for ``profile="stripe"``), closed on exit.

    ``defaults`` are settings every connector gets; a call's own settings override them. The
    connectors note each backoff in ``waits`` instead of sleeping.
    """
    built: list[BillingConnector] = []

    def make(attempts: int = 4, max_wait: float = 30.0, **settings: Any) -> BillingConnector:
        chosen = {**defaults, **settings}
        base_url = sandbox.stripe_url if chosen.get("profile") == "stripe" else sandbox.url
        options = {"base_url": base_url, "api_key": SecretStr(sandbox.api_key), **chosen}
        retry = RetrySettings(attempts=attempts, max_wait_seconds=max_wait)
        connector = BillingConnector(BillingSettings(**options), retry, wait=waits.append)
        built.append(connector)
        return connector

    try:
        yield make
    finally:
        for connector in built:
            connector.close()
