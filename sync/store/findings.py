"""Reconciliation findings: what a reconcile saw wrong across the systems, and since when.

A finding is keyed by what it is about (kind, system, entity, the record, the field), never by
its values, so a re-run that sees the same problem updates ``last_seen`` (and the values, which
may have moved) instead of adding a row. A reconcile covers a scope (flow, entity, system); an
open finding in that scope that the reconcile no longer sees has been fixed, and resolves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sync.store.id_lists import one_of
from sync.store.schema import JsonColumn, UtcDateTime, metadata, utc_now


class FindingKind(StrEnum):
    """What is wrong."""

    MISSING_IN_TARGET = "missing_in_target"
    UNKNOWN_IN_TARGET = "unknown_in_target"
    DRIFT = "drift"
    AMOUNT_MISMATCH = "amount_mismatch"
    UNBILLED = "unbilled"
    PAYMENT_STATUS_MISMATCH = "payment_status_mismatch"
    ORPHAN = "orphan"


class Severity(StrEnum):
    """How urgent, lowest first; ``--fail-on`` compares by this order."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """The position in the order above: a higher rank is more severe."""
        return list(Severity).index(self)


findings = sa.Table(
    "findings",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("finding_key", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("flow", sa.String(80), nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("system", sa.String(40), nullable=False),
    sa.Column("canonical_id", sa.String(64), nullable=True, index=True),
    sa.Column("system_ids", JsonColumn, nullable=False),
    sa.Column("field", sa.String(120), nullable=True),
    sa.Column("expected_value", JsonColumn, nullable=True),
    sa.Column("actual_value", JsonColumn, nullable=True),
    # Money in minor units (exact integers on both backends, as the comparison is made).
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("amount_at_risk_minor", sa.BigInteger(), nullable=True),
    sa.Column("reporting_currency", sa.String(3), nullable=True),
    sa.Column("reporting_amount_minor", sa.BigInteger(), nullable=True),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Column("acknowledged_by", sa.String(200), nullable=True),
    sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Index("ix_findings_scope", "flow", "entity", "resolved_at"),
)


@dataclass(frozen=True)
class Finding:
    """One problem a reconcile saw; ``subject`` names the record when no canonical id does."""

    kind: FindingKind
    severity: Severity
    flow: str
    entity: str
    system: str
    canonical_id: str | None
    system_ids: dict[str, str] = field(default_factory=dict)
    field: str | None = None
    expected_value: Any = None
    actual_value: Any = None
    currency: str | None = None
    amount_at_risk_minor: int | None = None
    reporting_currency: str | None = None
    reporting_amount_minor: int | None = None
    subject: str = ""

    @property
    def key(self) -> str:
        """Stable across re-runs: what the finding is about, not what the values are."""
        parts = (self.kind, self.system, self.entity, self.canonical_id or "", self.subject)
        text = "\x1f".join((*parts, self.field or ""))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class StoredFinding:
    """A finding as the store keeps it."""

    id: int
    finding: Finding
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    acknowledged_by: str | None
    note: str | None
    acknowledged_at: datetime | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """What one reconcile changed: findings new, seen again, and resolved; each seen one's id
    by its key (what `reconcile acknowledge` takes)."""

    new: int
    seen_again: int
    resolved: int
    ids: dict[str, int] = field(default_factory=dict)


def _values(finding: Finding) -> dict[str, Any]:
    return {
        "kind": str(finding.kind),
        "severity": str(finding.severity),
        "flow": finding.flow,
        "entity": finding.entity,
        "system": finding.system,
        "canonical_id": finding.canonical_id,
        "system_ids": dict(finding.system_ids),
        "field": finding.field,
        "expected_value": finding.expected_value,
        "actual_value": finding.actual_value,
        "currency": finding.currency,
        "amount_at_risk_minor": finding.amount_at_risk_minor,
        "reporting_currency": finding.reporting_currency,
        "reporting_amount_minor": finding.reporting_amount_minor,
    }


def record_findings(
    connection: sa.Connection,
    seen: Sequence[Finding],
    scope: Collection[tuple[str, str, str]],
    now: datetime | None = None,
) -> RecordOutcome:
    """Save what a reconcile of ``scope`` ((flow, entity, system)) saw, and resolve the rest.

    A finding seen again keeps its first_seen and its acknowledgement while it stays open. One
    that had resolved reopens without it: it came back after a fix, and asks to be looked at
    again. An open finding in scope that is not in ``seen`` resolves at ``now``.
    """
    now = now or utc_now()
    by_key = {finding.key: finding for finding in seen}
    existing = {
        row.finding_key: (row.id, row.resolved_at is not None)
        for row in connection.execute(
            sa.select(findings.c.finding_key, findings.c.id, findings.c.resolved_at).where(
                one_of(connection, findings.c.finding_key, list(by_key))
            )
        )
    }
    ids: dict[str, int] = {}
    for key, finding in by_key.items():
        values = {**_values(finding), "last_seen": now, "resolved_at": None}
        if key in existing:
            finding_id, reopens = existing[key]
            if reopens:
                values.update(acknowledged_by=None, acknowledged_at=None, note=None)
            connection.execute(
                sa.update(findings).where(findings.c.id == finding_id).values(values)
            )
        else:
            inserted = connection.execute(
                sa.insert(findings).values(finding_key=key, first_seen=now, **values)
            ).inserted_primary_key
            assert inserted is not None
            finding_id = int(inserted[0])
        ids[key] = finding_id
    resolved = 0
    for flow, entity, system in scope:
        result = connection.execute(
            sa.update(findings)
            .where(
                findings.c.flow == flow,
                findings.c.entity == entity,
                findings.c.system == system,
                findings.c.resolved_at.is_(None),
                findings.c.last_seen < now,
            )
            .values(resolved_at=now)
        )
        resolved += result.rowcount
    new = len(by_key) - len(existing)
    return RecordOutcome(new=new, seen_again=len(existing), resolved=resolved, ids=ids)


def stored_finding(row: sa.Row[Any]) -> StoredFinding:
    """A row of the findings table as a StoredFinding."""
    finding = Finding(
        kind=FindingKind(row.kind),
        severity=Severity(row.severity),
        flow=row.flow,
        entity=row.entity,
        system=row.system,
        canonical_id=row.canonical_id,
        system_ids=dict(row.system_ids or {}),
        field=row.field,
        expected_value=row.expected_value,
        actual_value=row.actual_value,
        currency=row.currency,
        amount_at_risk_minor=row.amount_at_risk_minor,
        reporting_currency=row.reporting_currency,
        reporting_amount_minor=row.reporting_amount_minor,
    )
    return StoredFinding(
        id=row.id,
        finding=finding,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        resolved_at=row.resolved_at,
        acknowledged_by=row.acknowledged_by,
        note=row.note,
        acknowledged_at=row.acknowledged_at,
    )


def open_findings(
    connection: sa.Connection, flow: str | None = None, entity: str | None = None
) -> list[StoredFinding]:
    """Unresolved findings, most severe kinds first within each flow and entity."""
    query = sa.select(findings).where(findings.c.resolved_at.is_(None))
    if flow is not None:
        query = query.where(findings.c.flow == flow)
    if entity is not None:
        query = query.where(findings.c.entity == entity)
    query = query.order_by(findings.c.flow, findings.c.entity, findings.c.kind, findings.c.id)
    return [stored_finding(row) for row in connection.execute(query)]


@dataclass(frozen=True)
class FindingFilter:
    """Which findings to list; unset fields do not filter. Open ones only by default."""

    flow: str | None = None
    entity: str | None = None
    kind: FindingKind | None = None
    include_resolved: bool = False
    ids: tuple[int, ...] = ()


def list_findings(
    connection: sa.Connection, where: FindingFilter | None = None, limit: int | None = 1000
) -> list[StoredFinding]:
    """Matching findings by id (the order they were first seen), at most ``limit``."""
    where = where or FindingFilter()
    query = sa.select(findings).order_by(findings.c.id)
    if not where.include_resolved:
        query = query.where(findings.c.resolved_at.is_(None))
    for column, wanted in (
        (findings.c.flow, where.flow),
        (findings.c.entity, where.entity),
        (findings.c.kind, None if where.kind is None else str(where.kind)),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    if where.ids:
        query = query.where(findings.c.id.in_(where.ids))
    if limit is not None:
        query = query.limit(limit)
    return [stored_finding(row) for row in connection.execute(query)]


def all_findings(connection: sa.Connection) -> Iterable[StoredFinding]:
    """Every finding, resolved ones included, oldest first."""
    for row in connection.execute(sa.select(findings).order_by(findings.c.id)):
        yield stored_finding(row)


@dataclass(frozen=True)
class OpenTotals:
    """Open findings counted by kind, and their amount at risk by currency (minor units)."""

    by_kind: dict[str, int]
    at_risk_minor: dict[str, int]


def open_totals(connection: sa.Connection) -> OpenTotals:
    """What the metrics show: two grouped scans over the unresolved findings."""
    open_only = findings.c.resolved_at.is_(None)
    kinds = sa.select(findings.c.kind, sa.func.count()).where(open_only).group_by(findings.c.kind)
    money = (
        sa.select(findings.c.currency, sa.func.sum(findings.c.amount_at_risk_minor))
        .where(open_only, findings.c.currency.is_not(None))
        .group_by(findings.c.currency)
    )
    return OpenTotals(
        by_kind={str(kind): int(count) for kind, count in connection.execute(kinds)},
        at_risk_minor={
            str(currency): int(total or 0) for currency, total in connection.execute(money)
        },
    )
