"""Orphans: an invoice without an order, a credit memo without an invoice, a payment applied
to no invoice.

Read from the store alone: these records are captured from their system of record (the
ERP), so a missing link there is missing everywhere revbridge carries them. An invoice keyed
in by hand bills something no order sold; a credit memo with no invoice credits nothing
anyone can trace; a payment applied to no invoice sits unapplied while the invoice it was
meant for looks overdue. Void documents are left out: they move no money.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from sync.assurance.values import to_minor
from sync.store.findings import Finding, FindingKind, Severity
from sync.store.records import StoredRecord, iter_stored

_VOID = "void"


@dataclass(frozen=True)
class OrphanRule:
    """The link a record of ``entity`` must have, and the field holding its money."""

    entity: str
    link_field: str
    expected: str
    amount_field: str


ORPHAN_RULES = {
    rule.entity: rule
    for rule in (
        OrphanRule("invoice", "order_id", "an order", "total"),
        OrphanRule("credit_memo", "invoice_id", "an invoice", "amount"),
        OrphanRule("payment", "invoice_id", "an invoice it is applied to", "amount"),
    )
}


def _linked(rule: OrphanRule, record: StoredRecord) -> bool:
    payload = record.payload
    if payload.get(rule.link_field):
        return True
    # A payment split over several invoices has applications and no single invoice_id.
    applications = payload.get("applications") if rule.entity == "payment" else None
    if not isinstance(applications, list):
        return False
    return any(isinstance(line, dict) and line.get("invoice_id") for line in applications)


def orphans(connection: sa.Connection, flow: str, entity: str) -> Iterator[Finding]:
    """An orphan finding per stored ``entity`` record without the link its rule asks for."""
    rule = ORPHAN_RULES[entity]
    for batch in iter_stored(connection, entity):
        for record in batch:
            if record.payload.get("status") == _VOID or _linked(rule, record):
                continue
            currency = record.payload.get("currency")
            amount = (
                to_minor(record.payload.get(rule.amount_field), currency)
                if isinstance(currency, str)
                else None
            )
            yield Finding(
                kind=FindingKind.ORPHAN,
                severity=Severity.WARNING,
                flow=flow,
                entity=entity,
                system=record.source_system,
                canonical_id=record.canonical_id,
                system_ids={record.source_system: record.source_id},
                field=rule.link_field,
                expected_value=rule.expected,
                actual_value=None,
                currency=currency if isinstance(currency, str) else None,
                amount_at_risk_minor=amount,
            )
