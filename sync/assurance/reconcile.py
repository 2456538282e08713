"""One reconcile: every target of the chosen flows read whole and compared with the store.

Nothing is written to a system. The store gets the findings only once every target answered
in full: a target that failed half-way would otherwise turn every object it did not list into
a "missing" finding and resolve findings it never looked at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from config.settings import Settings
from connectors.base import Connector, ReadSpec
from mappings.mapping_set import EntityMapping, MappingSet
from sync.assurance.amounts import MONEY_ENTITIES
from sync.assurance.compare import TargetComparison
from sync.assurance.natural_keys import NATURAL_KEYS, NaturalKeyMatcher
from sync.assurance.orphans import ORPHAN_RULES, orphans
from sync.assurance.rates import ReportingRates
from sync.assurance.reading import listable, target_pages
from sync.assurance.unbilled import DEFAULT_GRACE_DAYS, unbilled_orders
from sync.engine.flows import Flow
from sync.store import Store
from sync.store.findings import Finding, RecordOutcome, record_findings
from sync.store.reconcile_reads import canonical_payloads, ids_in_target, never_written
from sync.store.records import iter_stored, xref_entries
from sync.store.schema import utc_now


@dataclass(frozen=True)
class ReconcileRequest:
    """What to reconcile: flows, optionally one entity, records written since a time."""

    flows: Sequence[Flow]
    settings: Settings
    entity: str | None = None
    since: datetime | None = None
    today: date | None = None
    grace_days: int = DEFAULT_GRACE_DAYS


@dataclass
class ReconcileReport:
    """What one reconcile saw, what the store made of it, and the list pages it read."""

    findings: list[Finding] = field(default_factory=list)
    outcome: RecordOutcome = field(default_factory=lambda: RecordOutcome(0, 0, 0))
    scope: list[tuple[str, str, str]] = field(default_factory=list)
    pages: Counter[str] = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (system, object) not listable


def _targets(mappings: MappingSet, flow: Flow, entity: str) -> list[EntityMapping]:
    found = []
    for system in flow.targets:
        mapping = mappings.systems.get(system)
        target = mapping.entities.get(entity) if mapping is not None else None
        if target is not None and not target.system_of_record and target.external_id_field:
            found.append(target)
    return found


_CONFIRM_BATCH = 200


def _confirm_unseen(
    connector: Connector, mapping: EntityMapping, comparison: TargetComparison
) -> None:
    """Ask the target by id for the objects its list did not show, before calling them missing.

    A list read has an upper bound (NetSuite's search stops a second before its clock), and a
    run may write while the reconcile reads: an object changed in that window is not listed,
    yet it is there. Connectors that cannot fetch by id (Stripe) are taken at their list.
    """
    fetch_key = getattr(connector, "fetch_key", "target_id")
    if fetch_key is None:
        return
    by_external = fetch_key == "external_id" and mapping.external_id_field is not None
    key = mapping.external_id_field if by_external else mapping.key_field
    unseen = comparison.unseen()
    for start in range(0, len(unseen), _CONFIRM_BATCH):
        target_ids = unseen[start : start + _CONFIRM_BATCH]
        lookup = {comparison.expected[t] if by_external else t: t for t in target_ids}
        spec = ReadSpec(object_name=mapping.object_name, fields=(key or "",), key_field=key or "")
        for record in connector.fetch(spec, list(lookup)):
            found = lookup.get(str(record.get(key or "")))
            if found is not None:
                comparison.seen.add(found)


def _stored_payloads(store: Store, entity: str) -> Iterator[tuple[str, dict[str, Any]]]:
    with store.engine.connect() as connection:
        for batch in iter_stored(connection, entity):
            for record in batch:
                yield record.canonical_id, record.payload


def _store_checks(
    store: Store, flow: Flow, entity: str, today: date, request: ReconcileRequest
) -> tuple[list[tuple[str, str, str]], list[Finding]]:
    """Checks read from the store alone (unbilled orders, orphans): their scope and findings."""
    with store.engine.connect() as connection:
        if entity == "order":
            found = list(unbilled_orders(connection, flow.name, today, request.grace_days))
        elif entity in ORPHAN_RULES:
            found = list(orphans(connection, flow.name, entity))
        else:
            return [], []
    return [(flow.name, entity, flow.source)], found


def _compare_target(
    store: Store,
    flow: Flow,
    mapping: EntityMapping,
    connector: Connector,
    request: ReconcileRequest,
    report: ReconcileReport,
) -> None:
    system, entity = mapping.system, mapping.entity
    with store.engine.connect() as connection:
        expected = ids_in_target(connection, system, entity, request.since)
    comparison = TargetComparison(flow.name, flow.source, mapping, expected)
    if entity in NATURAL_KEYS:
        comparison.natural_keys = NaturalKeyMatcher(
            mapping, lambda: _stored_payloads(store, entity)
        )
    for records in target_pages(connector, mapping):
        report.pages[system] += 1
        markers = comparison.markers(records)
        with store.engine.connect() as connection:
            xrefs = xref_entries(connection, system, markers)
            money = entity in MONEY_ENTITIES
            canonical = canonical_payloads(connection, markers) if money else {}
        report.findings.extend(comparison.compare_page(records, xrefs, canonical))
    _confirm_unseen(connector, mapping, comparison)
    with store.engine.connect() as connection:
        lost = canonical_payloads(connection, [expected[t] for t in comparison.unseen()])
        unsent = never_written(connection, system, entity, flow.source, request.since)
        unsent_payloads = canonical_payloads(connection, unsent)
    report.findings.extend(comparison.missing(lost))
    report.findings.extend(comparison.never_written(unsent_payloads))


def in_reporting_currency(
    findings: Sequence[Finding], rates: ReportingRates, on_date: date
) -> list[Finding]:
    """``findings`` with their amount at risk also in the reporting currency, on ``on_date``.

    Raises MissingRate for a currency the table has no rate for on that date.
    """
    return [
        replace(
            finding,
            reporting_currency=rates.currency,
            reporting_amount_minor=rates.to_reporting(
                finding.amount_at_risk_minor, finding.currency, on_date
            ),
        )
        if rates.currency and finding.amount_at_risk_minor is not None and finding.currency
        else finding
        for finding in findings
    ]


def reconcile(
    store: Store,
    mappings: MappingSet,
    connectors: Mapping[str, Connector],
    request: ReconcileRequest,
) -> ReconcileReport:
    """Compare, then record the findings; raises the connectors' errors with nothing recorded.

    Amounts at risk are converted at the rates of the reconcile's day; a missing rate raises
    MissingRate, also with nothing recorded.
    """
    report = ReconcileReport()
    today = request.today or utc_now().date()
    for flow in request.flows:
        for source in mappings.source_entities(flow.source):
            entity = source.entity
            if not flow.includes(entity) or request.entity not in (None, entity):
                continue
            for target in _targets(mappings, flow, entity):
                if not listable(target, request.settings):
                    report.skipped.append((target.system, target.object_name))
                    continue
                report.scope.append((flow.name, entity, target.system))
                _compare_target(store, flow, target, connectors[target.system], request, report)
            scope, found = _store_checks(store, flow, entity, today, request)
            report.scope.extend(scope)
            report.findings.extend(found)
    rates = ReportingRates.from_settings(request.settings.assurance)
    report.findings = in_reporting_currency(report.findings, rates, today)
    # A reconcile of records written since a time looked at only those: it resolves nothing.
    scope = report.scope if request.since is None else []
    with store.transaction() as connection:
        report.outcome = record_findings(connection, report.findings, scope)
    return report
