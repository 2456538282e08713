"""Open one connector per configured system."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from config.settings import Settings
from connectors.base import Connector
from connectors.billing.connector import BillingConnector
from connectors.erp.connector import ErpConnector
from connectors.salesforce.connector import SalesforceConnector


@contextmanager
def open_connectors(settings: Settings) -> Iterator[dict[str, Connector]]:
    """Connectors for salesforce, billing and erp, closed on exit."""
    connectors: dict[str, Connector] = {
        "salesforce": SalesforceConnector(settings.salesforce, settings.retry),
        "billing": BillingConnector(settings.billing, settings.retry),
        "erp": ErpConnector(settings.erp, settings.retry),
    }
    try:
        yield connectors
    finally:
        for connector in connectors.values():
            connector.close()
