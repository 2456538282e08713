"""What revenue metrics read from the store: canonical payloads, account names, open leakage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from sync.store.findings import FindingKind, findings
from sync.store.records import iter_stored

# The entities the metrics are computed from.
REVENUE_ENTITIES = ("contract", "subscription", "order", "invoice", "payment", "credit_memo")
# Findings whose amount at risk is revenue leaking away (not, say, a renamed account).
LEAKAGE_KINDS = (FindingKind.UNBILLED, FindingKind.AMOUNT_MISMATCH)
_BATCH = 1000


def iter_payloads(connection: sa.Connection, entity: str) -> Iterator[dict[str, Any]]:
    """Every stored, undeleted ``entity`` payload, in keyset batches."""
    for batch in iter_stored(connection, entity, batch_size=_BATCH):
        for record in batch:
            yield record.payload


def account_names(connection: sa.Connection) -> dict[str, str]:
    """Canonical account id -> the account's name, for the backlog by customer."""
    names = {}
    for payload in iter_payloads(connection, "account"):
        if isinstance(payload.get("id"), str) and isinstance(payload.get("name"), str):
            names[payload["id"]] = payload["name"]
    return names


def open_leakage_minor(connection: sa.Connection) -> dict[str, int]:
    """Per currency: the amount at risk (minor units) of open unbilled and mismatch findings."""
    query = (
        sa.select(findings.c.currency, sa.func.sum(findings.c.amount_at_risk_minor))
        .where(
            findings.c.resolved_at.is_(None),
            findings.c.kind.in_([str(kind) for kind in LEAKAGE_KINDS]),
            findings.c.currency.is_not(None),
        )
        .group_by(findings.c.currency)
    )
    return {str(currency): int(total or 0) for currency, total in connection.execute(query)}
