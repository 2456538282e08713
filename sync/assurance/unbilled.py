"""Unbilled orders: activated, effective for longer than the grace period, and no invoice.

This is the classic revenue leak: the customer has the service and nobody bills it. The
invoices are the canonical ones (captured from the ERP, the system of record for
receivables), so an invoice in either the ERP or, through it, the billing system counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import sqlalchemy as sa

from sync.assurance.amounts import canonical_total_minor
from sync.store.findings import Finding, FindingKind, Severity
from sync.store.records import StoredRecord, iter_stored

DEFAULT_GRACE_DAYS = 7
_ACTIVATED = "activated"


def invoiced_orders(connection: sa.Connection) -> set[str]:
    """Canonical ids of orders some stored invoice points at."""
    return {
        str(record.payload["order_id"])
        for batch in iter_stored(connection, "invoice")
        for record in batch
        if record.payload.get("order_id")
    }


def _overdue(record: StoredRecord, cutoff: date) -> bool:
    if record.payload.get("status") != _ACTIVATED:
        return False
    try:
        effective = date.fromisoformat(str(record.payload.get("effective_date")))
    except ValueError:
        return False
    return effective <= cutoff


def unbilled_orders(
    connection: sa.Connection, flow: str, today: date, grace_days: int = DEFAULT_GRACE_DAYS
) -> Iterator[Finding]:
    """An unbilled finding per activated order past ``grace_days`` with no invoice."""
    invoiced = invoiced_orders(connection)
    cutoff = today - timedelta(days=grace_days)
    for batch in iter_stored(connection, "order"):
        for record in batch:
            if record.canonical_id in invoiced or not _overdue(record, cutoff):
                continue
            currency = record.payload.get("currency")
            yield Finding(
                kind=FindingKind.UNBILLED,
                severity=Severity.ERROR,
                flow=flow,
                entity="order",
                system=record.source_system,
                canonical_id=record.canonical_id,
                system_ids={record.source_system: record.source_id},
                field="effective_date",
                expected_value=f"an invoice within {grace_days} days",
                actual_value=record.payload.get("effective_date"),
                currency=str(currency) if currency else None,
                amount_at_risk_minor=canonical_total_minor(record.payload),
            )
