"""Deleting billing records: the answer to one DELETE as a per-record result, and what Stripe
lets a client delete at all.

Both profiles send ``DELETE`` on the record's own path; a 404 means the record is already gone
(deleted by someone else, or by an earlier attempt whose answer was lost), which is the goal.
"""

from __future__ import annotations

from urllib.parse import quote

import requests

from connectors.base import DeleteOutcome, DeleteResult
from connectors.billing.http import ApiRequest, BillingHttpClient, api_error
from connectors.errors import ConfigError

SYSTEM = "billing"

# Stripe collections with a DELETE endpoint that removes the object (spec3.json). Prices,
# invoices past draft, subscriptions (only cancelled), payments and credit notes have none.
STRIPE_DELETABLE = frozenset({"customers", "products", "invoiceitems"})


def delete_result(target_id: str, response: requests.Response) -> DeleteResult:
    """2xx -> deleted, 404 -> already deleted, other 4xx -> rejected with the API's code."""
    if response.status_code == 404:
        return DeleteResult(target_id, DeleteOutcome.ALREADY_DELETED)
    if response.status_code < 300:
        return DeleteResult(target_id, DeleteOutcome.DELETED)
    error = api_error(response)
    return DeleteResult(
        target_id,
        DeleteOutcome.REJECTED,
        error_code=str(error.get("code") or f"http_{response.status_code}"),
        error_message=str(error.get("message") or response.reason),
    )


def delete_at(client: BillingHttpClient, path: str, target_id: str) -> DeleteResult:
    """Send one DELETE (retried like any call) and classify the answer."""
    response = client.send(ApiRequest("DELETE", path), missing_ok=True)
    return delete_result(target_id, response)


def delete_stripe_object(
    client: BillingHttpClient, collection: str, target_id: str
) -> DeleteResult:
    """``DELETE /v1/{collection}/{id}`` where Stripe allows it; ConfigError where it doesn't."""
    if collection not in STRIPE_DELETABLE:
        raise ConfigError(
            f"Stripe cannot delete {collection}; set the entity's delete policy to deactivate",
            system=SYSTEM,
        )
    path = f"/v1/{quote(collection, safe='')}/{quote(target_id, safe='')}"
    return delete_at(client, path, target_id)
