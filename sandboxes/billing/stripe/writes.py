"""How the Stripe-compatible sandbox builds and changes objects, and bills pending items."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from sandboxes.billing.rules import ApiError
from sandboxes.billing.stripe.objects import OBJECT_NAMES, integer, price_from_data, reference
from sandboxes.billing.stripe.prorations import prorate

if TYPE_CHECKING:
    from sandboxes.billing.stripe.store import StripeStore

_REFERENCES = {"customer": "customers", "product": "products"}
# Subscription parameters that steer a request but are not fields of the object.
_NOT_STORED = frozenset(
    {"payment_behavior", "proration_behavior", "proration_date", "backdate_start_date"}
)
_ENUMS = {
    "collection_method": ("charge_automatically", "send_invoice"),
    "payment_behavior": (
        "allow_incomplete",
        "default_incomplete",
        "error_if_incomplete",
        "pending_if_incomplete",
    ),
    "proration_behavior": ("always_invoice", "create_prorations", "none"),
}
_TIMESTAMPS = ("cancel_at", "billing_cycle_anchor", "backdate_start_date", "proration_date")


def subscription_terms(form: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """How the subscription collects, and its dates, checked as Stripe checks them."""
    for name, allowed in _ENUMS.items():
        if name in form and form[name] not in allowed:
            message = f"Invalid {name}: must be one of {', '.join(allowed)}"
            raise ApiError(400, "parameter_invalid", name, message)
    terms: dict[str, Any] = {
        name: integer(form, name, name) for name in _TIMESTAMPS[:2] if name in form
    }
    for name in _TIMESTAMPS[2:]:
        integer(form, name, name)
    method = form.get("collection_method") or (current or {}).get("collection_method")
    terms["collection_method"] = method or "charge_automatically"  # Stripe's default
    days = integer(form, "days_until_due", "days_until_due")
    if days is None and current is not None:
        days = current.get("days_until_due")
    if terms["collection_method"] == "send_invoice" and days is None:
        message = "Missing required param: days_until_due (for collection_method send_invoice)."
        raise ApiError(400, "parameter_missing", "days_until_due", message)
    if terms["collection_method"] == "charge_automatically" and "days_until_due" in form:
        message = "days_until_due can only be set when collection_method is send_invoice."
        raise ApiError(400, "parameter_invalid", "days_until_due", message)
    terms["days_until_due"] = days if terms["collection_method"] == "send_invoice" else None
    return terms


def _line_amount(price: dict[str, Any], quantity: int) -> int:
    return int(price["unit_amount"] if price["unit_amount"] is not None else 0) * quantity


class StripeWrites:
    """Create and update objects in a :class:`StripeStore`."""

    def __init__(self, state: StripeStore) -> None:
        self._state = state

    def create(self, collection: str, form: dict[str, Any]) -> dict[str, Any]:
        """A new object from validated create parameters."""
        state = self._state
        for name, target in _REFERENCES.items():
            if collection != target:
                reference(form, name, target, state.exists, name)
        row: dict[str, Any] = {
            "id": state.new_id(collection),
            "object": OBJECT_NAMES[collection],
            "created": state.tick(),
            "livemode": False,
            "metadata": dict(form.get("metadata") or {}),
        }
        row.update(self._fields(collection, form, row["id"]))
        state.rows[collection][row["id"]] = row
        state.writes[(collection, "created")] += 1
        return dict(row)

    def update(self, collection: str, object_id: str, form: dict[str, Any]) -> dict[str, Any]:
        """The object with validated update parameters applied; metadata merges."""
        row = self._state.rows[collection][object_id]
        before = copy.deepcopy(row)
        metadata = {**row.get("metadata", {}), **(form.get("metadata") or {})}
        changes = self._fields(collection, form, object_id, current=row)
        row.update({**changes, "metadata": {k: v for k, v in metadata.items() if v != ""}})
        self._state.writes[(collection, "updated")] += 1
        if collection == "subscriptions":
            prorate(self._state, before, row, form)
        return dict(row)

    def _fields(
        self,
        collection: str,
        form: dict[str, Any],
        object_id: str,
        current: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        plain = {k: v for k, v in form.items() if k not in ("metadata", "expand", "items")}
        if collection == "prices" and current is None:
            plain = price_from_data(form, self._state.exists, "", recurring=False)
            plain["active"] = form.get("active", "true") != "false"
        if collection == "invoiceitems":
            plain.update(self._invoice_item_amounts(form, current))
        if collection == "subscriptions":
            plain = {k: v for k, v in plain.items() if k not in _NOT_STORED}
            plain.update(subscription_terms(form, current))
        if collection == "subscriptions" and "items" in form:
            plain["items"] = self._items(object_id, form["items"], current)
            if current is None:
                incomplete = form.get("payment_behavior") == "default_incomplete"
                charged = plain["collection_method"] == "charge_automatically"
                plain["status"] = "incomplete" if incomplete and charged else "active"
        if "active" in plain and isinstance(plain["active"], str):
            plain["active"] = plain["active"] == "true"
        return plain

    def _invoice_item_amounts(
        self, form: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        quantity = integer(form, "quantity", "quantity") or (current or {}).get("quantity") or 1
        price = (current or {}).get("price")
        if isinstance(form.get("price_data"), dict):
            price = price_from_data(
                form["price_data"], self._state.exists, "price_data", recurring=False
            )
            price["id"] = self._state.new_id("prices")
        amount = integer(form, "amount", "amount")
        if price is None and amount is None:
            raise ApiError(400, "parameter_missing", "amount", "Missing amount or price_data.")
        if amount is None and price is not None:
            amount = _line_amount(price, quantity)
        fields: dict[str, Any] = {"quantity": quantity, "amount": amount, "price": price}
        if price is not None:
            fields["unit_amount"] = price["unit_amount"]
            fields["unit_amount_decimal"] = price["unit_amount_decimal"]
        fields.setdefault("invoice", (current or {}).get("invoice"))
        return {k: v for k, v in fields.items() if k not in ("price",)} | {"price": price}

    def _items(
        self, subscription_id: str, items: Any, current: dict[str, Any] | None
    ) -> dict[str, Any]:
        if not isinstance(items, list) or not items:
            raise ApiError(400, "parameter_invalid", "items", "items must be a non-empty list")
        kept = {item["id"]: item for item in ((current or {}).get("items") or {}).get("data", [])}
        for index, item in enumerate(items):
            param = f"items[{index}]"
            if item.get("deleted") == "true":
                kept.pop(str(item.get("id")), None)
                continue
            existing = kept.get(str(item.get("id"))) if item.get("id") else None
            if item.get("id") and existing is None:
                raise ApiError(400, "resource_missing", f"{param}[id]", "No such subscription item")
            built = dict(
                existing
                or {
                    "id": self._state.new_id("subscription_items"),
                    "object": "subscription_item",
                    "subscription": subscription_id,
                    "created": self._state.tick(),
                }
            )
            if isinstance(item.get("price_data"), dict):
                price = price_from_data(
                    item["price_data"], self._state.exists, f"{param}[price_data]", recurring=True
                )
                built["price"] = {**price, "id": self._state.new_id("prices")}
            elif item.get("price"):
                built["price"] = dict(self._price(str(item["price"]), f"{param}[price]"))
            elif existing is None:
                raise ApiError(400, "parameter_missing", f"{param}[price_data]", "Missing price.")
            built["quantity"] = self._item_quantity(item, built, param)
            built["metadata"] = {**built.get("metadata", {}), **(item.get("metadata") or {})}
            kept[built["id"]] = built
        url = f"/v1/subscription_items?subscription={subscription_id}"
        return {"object": "list", "data": list(kept.values()), "has_more": False, "url": url}

    def _price(self, price_id: str, param: str) -> dict[str, Any]:
        price = self._state.rows["prices"].get(price_id)
        if price is None or not price.get("recurring"):
            raise ApiError(400, "resource_missing", param, f"No such recurring price: '{price_id}'")
        return price

    @staticmethod
    def _item_quantity(item: dict[str, Any], built: dict[str, Any], param: str) -> int | None:
        """Like Stripe: a metered price takes no quantity; a licensed one defaults to 1."""
        quantity = integer(item, "quantity", f"{param}[quantity]")
        metered = ((built.get("price") or {}).get("recurring") or {}).get("usage_type") == "metered"
        if metered:
            if quantity is not None:
                message = "You cannot set the quantity for metered plans."
                raise ApiError(400, "parameter_invalid", f"{param}[quantity]", message)
            return None
        if quantity is not None and quantity < 0:
            message = "Quantity must be a non-negative integer."
            raise ApiError(400, "parameter_invalid_integer", f"{param}[quantity]", message)
        if quantity is None:
            return int(built.get("quantity") or 1)
        return quantity

    def cancel_subscription(self, subscription_id: str) -> dict[str, Any]:
        """``DELETE /v1/subscriptions/{id}``: cancelled now, without a final invoice."""
        row = self._state.rows["subscriptions"][subscription_id]
        if row.get("status") != "canceled":
            row.update(status="canceled", canceled_at=self._state.tick())
            self._state.writes[("subscriptions", "canceled")] += 1
        return dict(row)
