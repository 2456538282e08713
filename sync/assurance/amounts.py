"""Order and invoice totals as each system spells them, compared in minor units.

Rounding may differ by a cent on each line between systems (one rounds per line, one on the
total), so totals within one minor unit per line are the same amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sync.assurance.values import as_decimal, to_minor

# Entities whose total is money at stake, and the canonical field that holds it.
MONEY_ENTITIES = frozenset({"order", "invoice"})


@dataclass(frozen=True)
class AmountGap:
    """The canonical total, the target's, and the difference, in minor units."""

    expected_minor: int
    actual_minor: int

    @property
    def at_risk_minor(self) -> int:
        """How much the two totals differ by."""
        return abs(self.expected_minor - self.actual_minor)


def canonical_total_minor(payload: Mapping[str, Any]) -> int | None:
    """The canonical record's total in minor units of its currency."""
    currency = payload.get("currency")
    if not isinstance(currency, str):
        return None
    return to_minor(payload.get("total"), currency)


def target_total(system: str, record: Mapping[str, Any]) -> Any:
    """The total a target shows: NetSuite sums its item lines; the others carry ``total``."""
    if system != "erp":
        return record.get("total")
    items = (record.get("itemList") or {}).get("item") or []
    amounts = [as_decimal(item.get("amount")) for item in items if isinstance(item, Mapping)]
    if not amounts or any(amount is None for amount in amounts):
        return None
    return sum((amount for amount in amounts if amount is not None), Decimal(0))


def amount_gap(
    system: str, canonical: Mapping[str, Any], record: Mapping[str, Any]
) -> AmountGap | None:
    """The gap between the canonical total and the target's, beyond rounding; None if none."""
    expected = canonical_total_minor(canonical)
    currency = canonical.get("currency")
    if expected is None or not isinstance(currency, str):
        return None
    actual = to_minor(target_total(system, record), currency)
    if actual is None:
        return AmountGap(expected, 0) if expected else None
    lines = canonical.get("lines")
    tolerance = max(1, len(lines)) if isinstance(lines, list) else 1
    if abs(expected - actual) <= tolerance:
        return None
    return AmountGap(expected, actual)
