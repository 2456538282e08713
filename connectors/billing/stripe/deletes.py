"""What Stripe can delete, what it does instead, and the configuration check built on that.

Stripe deletes customers, products and invoice items outright, but only cancels subscriptions,
archives prices, voids finalized invoices and credit notes, and refunds payments. A flow asking
to ``propagate`` deletes of those into Stripe would fail on every run, so such a configuration
is refused when it is loaded (:func:`refuse_deletes_stripe_cannot_do`, a ``ConfigCheck``), with
the policy to use instead; ``revbridge init --profile stripe`` offers only what Stripe can do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from config.delete_policies import DeletePolicyName
from config.loader import Loc
from config.settings import FlowSettings
from connectors.base import DeleteResult
from connectors.billing.deletes import delete_at
from connectors.billing.http import BillingHttpClient
from connectors.errors import ConfigError

SYSTEM = "billing"

# Stripe collections with a DELETE endpoint that removes the object (spec3.json). Prices,
# invoices past draft, subscriptions (only cancelled), payments and credit notes have none.
DELETABLE_COLLECTIONS = frozenset({"customers", "products", "invoiceitems"})
# Canonical entities the Stripe mappings (mappings/profiles/stripe/) write to such a collection.
DELETABLE_ENTITIES = frozenset({"account", "product"})


@dataclass(frozen=True)
class Instead:
    """What Stripe does in place of deleting one entity, and the delete policy that matches."""

    what_stripe_does: str
    policy: DeletePolicyName


INSTEAD: dict[str, Instead] = {
    "order": Instead(
        "an order is a Stripe subscription, which Stripe cancels but never deletes", "deactivate"
    ),
    "subscription": Instead("Stripe cancels subscriptions but never deletes them", "deactivate"),
    "price_book_entry": Instead("Stripe archives prices but never deletes them", "deactivate"),
    "invoice": Instead(
        "Stripe deletes only draft invoices; a finalized invoice can only be voided", "deactivate"
    ),
    "credit_memo": Instead("Stripe voids credit notes but never deletes them", "deactivate"),
    "payment": Instead("Stripe refunds payments but never deletes them", "ignore"),
}


def instead_of_deleting(entity: str) -> Instead:
    """What Stripe does with ``entity`` instead of deleting it (one not in DELETABLE_ENTITIES)."""
    return INSTEAD.get(entity, Instead(f"Stripe has no delete for {entity} records", "deactivate"))


def refuse_deletes_stripe_cannot_do(document: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Each ``flows[i].deletes.<entity>: propagate`` into Stripe billing that Stripe can't do."""
    billing = document.get("billing")
    flows = document.get("flows")
    if not isinstance(billing, Mapping) or billing.get("profile") != "stripe":
        return
    if not isinstance(flows, list):
        return
    for index, raw in enumerate(flows):
        try:
            flow = FlowSettings.model_validate(raw)
        except ValidationError:
            continue  # the settings model reports what is wrong with this flow
        if "billing" not in flow.targets:
            continue
        for entity, policy in flow.deletes.items():
            if policy != "propagate" or entity in DELETABLE_ENTITIES:
                continue
            instead = instead_of_deleting(entity)
            yield (
                ("flows", index, "deletes", entity),
                f"propagate is not possible with billing.profile stripe (flow {flow.name}): "
                f"{instead.what_stripe_does}; use {instead.policy} instead",
            )


def delete_stripe_object(
    client: BillingHttpClient, collection: str, target_id: str
) -> DeleteResult:
    """``DELETE /v1/{collection}/{id}`` where Stripe allows it; ConfigError where it doesn't."""
    if collection not in DELETABLE_COLLECTIONS:
        raise ConfigError(
            f"Stripe cannot delete {collection}; set the entity's delete policy to deactivate",
            system=SYSTEM,
        )
    path = f"/v1/{quote(collection, safe='')}/{quote(target_id, safe='')}"
    return delete_at(client, path, target_id)
