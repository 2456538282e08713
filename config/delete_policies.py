"""Which delete policies a configuration may ask for, checked when the config is loaded.

``propagate`` deletes the record in each target. Stripe deletes customers, products and invoice
items outright, but only cancels subscriptions, archives prices and voids finalized invoices
and credit notes; asking it to delete those would fail on every run, so the config is refused
up front with the policy to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

DeletePolicyName = Literal["deactivate", "ignore", "propagate"]

# Canonical entities the shipped Stripe mapping writes to a collection Stripe can delete.
STRIPE_DELETABLE_ENTITIES = frozenset({"account", "product"})
# What Stripe does instead of deleting, per canonical entity, for the refusal message.
_STRIPE_INSTEAD = {
    "order": "an order is a Stripe subscription, which Stripe cancels but never deletes",
    "subscription": "Stripe cancels subscriptions but never deletes them",
    "price_book_entry": "Stripe archives prices but never deletes them",
    "invoice": "Stripe deletes only draft invoices; a finalized invoice can only be voided",
    "credit_memo": "Stripe voids credit notes but never deletes them",
    "payment": "Stripe refunds payments but never deletes them",
}


def stripe_refusals(
    flows: Sequence[tuple[str, Sequence[str], Mapping[str, str]]],
) -> list[str]:
    """One message per (flow, entity) asking Stripe billing to delete what it cannot delete.

    ``flows`` holds each flow's name, targets and per-entity delete policies.
    """
    problems = []
    for index, (name, targets, deletes) in enumerate(flows):
        if "billing" not in targets:
            continue
        for entity, policy in deletes.items():
            if policy != "propagate" or entity in STRIPE_DELETABLE_ENTITIES:
                continue
            why = _STRIPE_INSTEAD.get(entity, f"Stripe has no delete for {entity} records")
            problems.append(
                f"[{index}].deletes.{entity} (flow {name}): propagate is not possible with "
                f"billing.profile stripe: {why}; use deactivate instead"
            )
    return problems
