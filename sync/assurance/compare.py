"""One target object compared with the store, a page at a time.

For each object the target holds: revbridge's marker (the external id field, which carries the
canonical id) says which record it is. A marker the store does not know there is an unknown
object; a known one is compared field by field with what revbridge last wrote (drift) and, for
orders and invoices, by total (amount mismatch). Ids the store holds that no page showed are
missing in the target. Only target ids are kept between pages, never whole objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.base import RawRecord
from mappings.mapping_set import EntityMapping
from sync.assurance.amounts import MONEY_ENTITIES, amount_gap, canonical_total_minor
from sync.assurance.natural_keys import NaturalKeyMatcher
from sync.assurance.payments import PAYMENT_ENTITY, PAYMENT_STATUS_FIELD, PaymentCheck
from sync.assurance.reading import read_fields
from sync.assurance.values import same_value
from sync.store.findings import Finding, FindingKind, Severity
from sync.store.records import XrefEntry

_TOTAL_FIELD = "total"


@dataclass
class TargetComparison:
    """The comparison of one flow's entity in one target; feed it pages, then ask for missing."""

    flow: str
    source_system: str
    mapping: EntityMapping
    expected: Mapping[str, str]  # target id -> canonical id, from the xref
    seen: set[str] = field(default_factory=set)
    natural_keys: NaturalKeyMatcher | None = None
    payments: PaymentCheck | None = None

    def __post_init__(self) -> None:
        if self.payments is None and self.mapping.entity == PAYMENT_ENTITY:
            self.payments = PaymentCheck(self.mapping)

    @property
    def marker_field(self) -> str:
        """The target field revbridge writes its canonical id into."""
        return self.mapping.external_id_field or ""

    def markers(self, records: list[RawRecord]) -> list[str]:
        """The canonical ids the page's objects carry (objects without a marker left out)."""
        return [str(r[self.marker_field]) for r in records if r.get(self.marker_field)]

    def compare_page(
        self,
        records: list[RawRecord],
        xrefs: Mapping[str, XrefEntry],
        canonical: Mapping[str, dict[str, Any]],
    ) -> list[Finding]:
        """Findings of one page; ``xrefs`` and ``canonical`` are keyed by the page's markers."""
        found: list[Finding] = []
        for record in records:
            target_id = str(record.get(self.mapping.key_field, ""))
            self.seen.add(target_id)
            marker = record.get(self.marker_field)
            if not marker:
                found.extend(self._look_alike(record, target_id))
                continue
            entry = xrefs.get(str(marker))
            if entry is None or entry.external_id != target_id:
                found.append(self._unknown(str(marker), target_id))
                continue
            found.extend(self._compare_known(entry, record, canonical.get(entry.canonical_id)))
        return found

    def missing(self, canonical: Mapping[str, dict[str, Any]]) -> list[Finding]:
        """Objects the store has an id for that no page showed; ``canonical`` by canonical id."""
        found = []
        for target_id in self.unseen():
            canonical_id = self.expected[target_id]
            payload = canonical.get(canonical_id, {})
            currency, amount = self._money(payload)
            found.append(
                self._finding(
                    FindingKind.MISSING_IN_TARGET,
                    Severity.ERROR,
                    canonical_id,
                    target_id,
                    currency=currency,
                    amount_at_risk_minor=amount,
                )
            )
        return found

    def never_written(self, canonical: Mapping[str, dict[str, Any]]) -> list[Finding]:
        """Records the target should hold and was never sent (no id there, nothing queued)."""
        found = []
        for canonical_id, payload in canonical.items():
            currency, amount = self._money(payload)
            found.append(
                replace(
                    self._finding(
                        FindingKind.MISSING_IN_TARGET,
                        Severity.ERROR,
                        canonical_id,
                        "",
                        currency=currency,
                        amount_at_risk_minor=amount,
                    ),
                    system_ids={},
                )
            )
        return found

    def unseen(self) -> list[str]:
        """Target ids from the xref that the target did not list."""
        return sorted(set(self.expected) - self.seen)

    def _look_alike(self, record: RawRecord, target_id: str) -> list[Finding]:
        """An unmarked object matching a canonical record on its natural key (made by hand)."""
        if self.natural_keys is None or target_id in self.expected:
            return []
        matched = self.natural_keys.match(record)
        if matched is None:
            return []
        canonical_id, values = matched
        return [
            self._finding(
                FindingKind.UNKNOWN_IN_TARGET,
                Severity.WARNING,
                canonical_id,
                target_id,
                subject=target_id,
                field=self.natural_keys.key_field(),
                expected_value=None,
                actual_value=values,
            )
        ]

    def _carries_total(self) -> bool:
        # NetSuite sums item lines; elsewhere only a mapped total can be compared (Salesforce
        # Billing's invoice total is a roll-up revbridge does not write).
        return self.mapping.system == "erp" or _TOTAL_FIELD in read_fields(self.mapping)

    def _payment_findings(
        self, entry: XrefEntry, record: RawRecord, canonical: dict[str, Any] | None
    ) -> tuple[list[Finding], set[str]]:
        """The payment status finding, and the fields it covers (drift leaves them alone)."""
        if self.payments is None or canonical is None:
            return [], set()
        covered = self.payments.top_level_fields(canonical)
        gap = self.payments.gap(canonical, record)
        if gap is None:
            return [], covered
        finding = self._finding(
            FindingKind.PAYMENT_STATUS_MISMATCH,
            Severity.ERROR,
            entry.canonical_id,
            entry.external_id,
            field=PAYMENT_STATUS_FIELD,
            expected_value=gap.expected,
            actual_value=gap.actual,
            currency=str(canonical.get("currency")),
            amount_at_risk_minor=gap.at_risk_minor,
        )
        return [finding], covered

    def _compare_known(
        self, entry: XrefEntry, record: RawRecord, canonical: dict[str, Any] | None
    ) -> list[Finding]:
        found, payment_fields = self._payment_findings(entry, record, canonical)
        checks_amount = (
            self.mapping.entity in MONEY_ENTITIES
            and canonical is not None
            and self._carries_total()
        )
        if checks_amount and canonical is not None:
            gap = amount_gap(self.mapping.system, canonical, record)
            if gap is not None:
                found.append(
                    self._finding(
                        FindingKind.AMOUNT_MISMATCH,
                        Severity.ERROR,
                        entry.canonical_id,
                        entry.external_id,
                        field=_TOTAL_FIELD,
                        expected_value=gap.expected_minor,
                        actual_value=gap.actual_minor,
                        currency=str(canonical.get("currency")),
                        amount_at_risk_minor=gap.at_risk_minor,
                    )
                )
        readable = set(read_fields(self.mapping))
        for name, written in (entry.last_written_payload or {}).items():
            if name == self.marker_field or (checks_amount and name == _TOTAL_FIELD):
                continue
            if name in payment_fields:
                continue
            if name not in readable and name.split(".")[0] not in readable:
                continue  # a child collection written as records of their own
            current = record.get(name)
            if not same_value(written, current):
                found.append(
                    self._finding(
                        FindingKind.DRIFT,
                        Severity.WARNING,
                        entry.canonical_id,
                        entry.external_id,
                        field=name,
                        expected_value=written,
                        actual_value=current,
                    )
                )
        return found

    def _unknown(self, marker: str, target_id: str) -> Finding:
        # Keyed by the target's own id: two hand-made copies with one marker are two findings.
        return self._finding(
            FindingKind.UNKNOWN_IN_TARGET,
            Severity.WARNING,
            None,
            target_id,
            subject=target_id,
            field=self.marker_field,
            actual_value=marker,
        )

    def _money(self, payload: Mapping[str, Any]) -> tuple[str | None, int | None]:
        if self.mapping.entity not in MONEY_ENTITIES or not payload:
            return None, None
        currency = payload.get("currency")
        return (str(currency), canonical_total_minor(payload)) if currency else (None, None)

    def _finding(
        self,
        kind: FindingKind,
        severity: Severity,
        canonical_id: str | None,
        target_id: str,
        **details: Any,
    ) -> Finding:
        return Finding(
            kind=kind,
            severity=severity,
            flow=self.flow,
            entity=self.mapping.entity,
            system=self.mapping.system,
            canonical_id=canonical_id,
            system_ids={self.mapping.system: target_id},
            subject=details.pop("subject", ""),
            **details,
        )
