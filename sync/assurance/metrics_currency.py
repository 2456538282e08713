"""Revenue facts restated in the reporting currency, at the rates of one date.

Every amount of a currency is multiplied by that currency's rate on the date the metrics are
taken (the as-of date), so a period's figures in the reporting currency add up the same way
as each currency's own. A currency with no rate on that date fails the whole restatement (the
rate function raises, naming both); it never counts as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

from sync.assurance.metrics_facts import RevenueFacts

# Reporting-currency units per unit of a currency on a date; raises when it has none.
RateOf = Callable[[str, date], Decimal]


def restated(facts: RevenueFacts, reporting: str, rate_of: RateOf, on: date) -> RevenueFacts:
    """``facts`` with every amount in ``reporting``, at each currency's rate on ``on``."""
    rates = {currency: rate_of(currency, on) for currency in facts.currencies()}
    invoice_rates = {i.invoice_id: rates[i.currency] for i in facts.invoices}
    return RevenueFacts(
        recurring=[
            replace(
                charge,
                currency=reporting,
                changes=tuple(
                    replace(c, unit_price=c.unit_price * rates[charge.currency])
                    for c in charge.changes
                ),
            )
            for charge in facts.recurring
        ],
        bookings=[
            replace(b, currency=reporting, total=b.total * rates[b.currency])
            for b in facts.bookings
        ],
        invoices=[
            replace(
                i,
                currency=reporting,
                total=i.total * rates[i.currency],
                balance_now=i.balance_now * rates[i.currency],
            )
            for i in facts.invoices
        ],
        settlements=[
            replace(s, amount=s.amount * invoice_rates.get(s.invoice_id, Decimal(1)))
            for s in facts.settlements
        ],
        collections=[
            replace(c, currency=reporting, amount=c.amount * rates[c.currency])
            for c in facts.collections
        ],
        account_names=facts.account_names,
        leakage={reporting: sum((a * rates[c] for c, a in facts.leakage.items()), Decimal(0))}
        if facts.leakage
        else {},
        skipped=facts.skipped,
    )
