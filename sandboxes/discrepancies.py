"""Discrepancies a person makes behind revbridge's back, for reconciliation tests and demos.

Each goes through the billing sandbox's own public surface (``resources``, ``seed``) or its
HTTP API, as an admin in the billing UI would: nothing here reaches into a sandbox's state.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from typing import Any

from sandboxes.billing.sandbox import BillingSandbox

# What the billing API sets itself; an edit sends the rest back.
_SERVER_FIELDS = ("id", "object", "created", "updated")


def billing_object(billing: BillingSandbox, collection: str, external_id: str) -> dict[str, Any]:
    """The stored billing object with revbridge's marker ``external_id``."""
    for resource in billing.resources(collection):
        if resource.get("external_id") == external_id:
            return resource
    raise KeyError(f"no {collection} object with external_id {external_id}")


def edit_billing_object(
    billing: BillingSandbox, collection: str, external_id: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change fields of one billing object by hand (an amount edited in the billing UI)."""
    current = billing_object(billing, collection, external_id)
    body = {k: v for k, v in current.items() if k not in _SERVER_FIELDS}
    (stored,) = billing.seed(collection, [{**body, **changes}])
    return stored


def create_billing_object(
    billing: BillingSandbox, collection: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """Create an object by hand, carrying a marker (``external_id``) revbridge never wrote."""
    (stored,) = billing.seed(collection, [dict(body)])
    return stored


def delete_billing_object(billing: BillingSandbox, collection: str, external_id: str) -> None:
    """Delete one object through the billing API, as an admin would."""
    request = urllib.request.Request(  # noqa: S310 - the loopback sandbox's own URL
        f"{billing.url}/v1/{collection}/{external_id}",
        method="DELETE",
        headers={"Authorization": f"Bearer {billing.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        json.load(answer)
