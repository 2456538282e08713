"""Deleting a resource of the generic billing API, with the refusal a real billing system gives.

A customer that live orders still bill, or a product that live order lines still sell, cannot
be deleted (400 ``resource_in_use``), so a client has to remove children before parents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandboxes.billing.rules import ApiError


def _bills_customer(order: Mapping[str, Any], resource_id: str) -> bool:
    return order.get("customer") == resource_id


def _sells_product(order: Mapping[str, Any], resource_id: str) -> bool:
    lines = order.get("lines") or ()
    return any(isinstance(line, Mapping) and line.get("product") == resource_id for line in lines)


# collection -> (collection that refers to it, whether a row of that collection names it)
_REFERRERS: dict[str, tuple[str, Callable[[Mapping[str, Any], str], bool]]] = {
    "customers": ("orders", _bills_customer),
    "products": ("orders", _sells_product),
}


def check_deletable(
    rows: Mapping[str, Mapping[str, dict[str, Any]]], collection: str, row: Mapping[str, Any]
) -> None:
    """Raise ``resource_in_use`` when another stored resource still refers to ``row``."""
    referrer = _REFERRERS.get(collection)
    if referrer is None:
        return
    other, refers = referrer
    users = [r["id"] for r in rows.get(other, {}).values() if refers(r, row["id"])]
    if users:
        message = (
            f"{collection[:-1]} {row['id']} is still used by {other} {', '.join(users[:3])}; "
            f"delete those first"
        )
        raise ApiError(400, "resource_in_use", "", message)


def deleted_reply(row: Mapping[str, Any]) -> dict[str, Any]:
    """Stripe's answer shape for a deleted object."""
    return {"id": row["id"], "object": row["object"], "external_id": row["external_id"],
            "deleted": True}  # fmt: skip
