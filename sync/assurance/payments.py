"""Payment status mismatch: the ERP says an invoice is paid (or void), a target says otherwise.

The canonical invoice is the ERP's (the system of record for receivables): its status and
the amount still due. What each target should show for them is what its mapping makes of the
canonical invoice now, in the target's own words (Salesforce Billing shows a paid invoice as
``Posted`` with a zero balance). A target showing anything else on those fields did not learn
of a payment, a void or a write-off, or someone changed it there. This is checked against the
canonical record, not against what revbridge last wrote: a payment that never reached a
target is exactly the case to catch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.mapping_set import EntityMapping
from sync.assurance.derived_fields import mapped, target_fields_of, value_at
from sync.assurance.values import same_value, to_minor

PAYMENT_ENTITY = "invoice"
PAYMENT_STATUS_FIELD = "payment_status"
# Canonical changes that move a target's payment fields: each status, and the balance.
_PROBES: tuple[Mapping[str, Any], ...] = (
    {"status": "paid", "amount_due": "0"},
    {"status": "open", "amount_due": "1"},
    {"status": "void"},
    {"status": "uncollectible"},
    {"status": "draft"},
)


@dataclass(frozen=True)
class PaymentGap:
    """The target's payment fields that differ from the canonical invoice, and the money."""

    expected: dict[str, Any]
    actual: dict[str, Any]
    at_risk_minor: int | None


@dataclass
class PaymentCheck:
    """Compares target invoices' payment fields with the canonical invoices."""

    mapping: EntityMapping
    _fields: tuple[str, ...] | None = field(default=None, init=False)

    def fields(self, sample: Mapping[str, Any]) -> tuple[str, ...]:
        """The target fields carrying status and balance, learnt once from a real invoice."""
        if self._fields is not None:
            return self._fields
        found: set[str] = set()
        for probe in _PROBES:
            found.update(target_fields_of(self.mapping, sample, probe))
        # An invoice the mapping cannot map teaches nothing: learn from the next one.
        if mapped(self.mapping, sample) is not None:
            self._fields = tuple(sorted(found))
        return tuple(sorted(found))

    def top_level_fields(self, sample: Mapping[str, Any]) -> set[str]:
        """The payload keys of :meth:`fields` (drift leaves them to this check)."""
        return {name.split(".")[0] for name in self.fields(sample)} | set(self.fields(sample))

    def gap(self, canonical: Mapping[str, Any], record: Mapping[str, Any]) -> PaymentGap | None:
        """What differs between the target's invoice and the canonical one; None if nothing."""
        expected_payload = mapped(self.mapping, canonical)
        if expected_payload is None:
            return None
        expected: dict[str, Any] = {}
        actual: dict[str, Any] = {}
        for name in self.fields(canonical):
            want, have = value_at(expected_payload, name), value_at(record, name)
            if not same_value(want, have):
                expected[name], actual[name] = want, have
        if not expected:
            return None
        return PaymentGap(expected, actual, _at_risk(canonical, expected, actual))


def _at_risk(
    canonical: Mapping[str, Any], expected: Mapping[str, Any], actual: Mapping[str, Any]
) -> int | None:
    """The balance the two systems disagree on; the whole invoice when only a status differs
    (a void invoice shown as posted may still be collected)."""
    currency = canonical.get("currency")
    if not isinstance(currency, str):
        return None
    gaps = [
        abs(want - have)
        for name in expected
        if (want := to_minor(expected[name], currency)) is not None
        and (have := to_minor(actual[name], currency)) is not None
    ]
    if gaps:
        return max(gaps)
    return to_minor(canonical.get("total"), currency)
