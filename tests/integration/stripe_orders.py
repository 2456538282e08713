"""Seeded orders re-dated to run today, as the Stripe profile only subscribes running orders."""

from __future__ import annotations

from datetime import date, timedelta

from sync.cli.sandboxes import Sandboxes


def current_orders(sandboxes: Sandboxes) -> None:
    """Orders that started a month ago and run a year; every other line charged once."""
    salesforce = sandboxes.salesforce
    start, end = date.today() - timedelta(days=30), date.today() + timedelta(days=334)
    for order in salesforce.records("Order"):
        dates = {"EffectiveDate": start.isoformat(), "EndDate": end.isoformat()}
        salesforce.update_record("Order", order["Id"], dates)
    for index, line in enumerate(salesforce.records("OrderItem")):
        recurring = index % 2 == 0
        changes = {
            "ServiceDate": start.isoformat(),
            "EndDate": end.isoformat() if recurring else None,
            # CPQ's charge type agrees: a one-time fee never becomes a subscription item.
            "SBQQ__ChargeType__c": "Recurring" if recurring else "One-Time",
        }
        salesforce.update_record("OrderItem", line["Id"], changes)
