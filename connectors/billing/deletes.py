"""Deleting billing records: the answer to one DELETE as a per-record result.

Both profiles send ``DELETE`` on the record's own path; a 404 means the record is already gone
(deleted by someone else, or by an earlier attempt whose answer was lost), which is the goal.
What Stripe lets a client delete at all is in :mod:`connectors.billing.stripe.deletes`.
"""

from __future__ import annotations

import requests

from connectors.base import DeleteOutcome, DeleteResult
from connectors.billing.http import ApiRequest, BillingHttpClient, api_error


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
