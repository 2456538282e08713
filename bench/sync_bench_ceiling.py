"""Issue 14's realistic profile for ``sync_bench.py``: platform latencies and the ceiling they set.

Salesforce answers every data API call (query, queryMore, writes) in 150 ms; the OAuth login is
not delayed. Billing answers every request in 100 ms. NetSuite answers ``upsertList`` in 1.5 s
and every other SOAP operation (``getServerTime``, ``search``, ``getList``, ...) in 0.3 s, and
refuses a fifth call in flight with ``exceededConcurrentRequestLimitFault``: its limit is the
account's, shared by every integration on it, and this profile gives revbridge 4 slots. The
engine runs with its defaults for these: ``erp.concurrency: 4``, ``billing.max_concurrency: 4``.

The ceiling is the run's time if nothing but the platforms' latencies counted: for each system,
the calls the run made divided by the calls that system lets run at once (rounded up: a last,
partial round takes a full latency), times its latency; the systems overlap completely (reads
run ahead of deliveries; billing and the ERP are written at the same time), so the ceiling is
the largest of those. It leaves out the engine's CPU time, and that a record's write can go only
after its source page was read and its parents' calls answered: no run can be faster.
"""

from __future__ import annotations

import math
from typing import Any

from config.settings import BillingSettings

SALESFORCE_SECONDS = 0.150
BILLING_SECONDS = 0.100
ERP_SECONDS = {"upsertList": 1.5, "*": 0.3}
ERP_CONCURRENCY = 4
# Salesforce limits concurrent calls only when they run past 20 s (25 per org), and the generic
# billing API publishes no limit: the engine's own setting is the bound there.
SALESFORCE_CONCURRENCY = 25
BILLING_CONCURRENCY = int(BillingSettings.model_fields["max_concurrency"].default)
PROFILE = (
    f"Salesforce {SALESFORCE_SECONDS * 1000:.0f} ms a call, billing "
    f"{BILLING_SECONDS * 1000:.0f} ms, NetSuite {ERP_SECONDS['upsertList']} s per upsertList "
    f"({ERP_SECONDS['*']} s other SOAP calls), {ERP_CONCURRENCY} ERP calls at once"
)
TITLE = (
    "ceiling = max over systems of ceil(calls / concurrency allowed) x latency (systems fully "
    "overlapped, no CPU, no waits on parents)"
)
HEADER = ("system", "calls", "latency s", "concurrency", "rounds", "seconds")


def set_realistic(sandboxes: Any) -> None:
    """Put the profile's latencies and the ERP's concurrency limit on ``sandboxes``."""
    sandboxes.billing.set_latency(BILLING_SECONDS)
    sandboxes.erp.fault_rates({})
    sandboxes.erp.set_call_latency(ERP_SECONDS, concurrency_limit=ERP_CONCURRENCY)
    sandboxes.salesforce.faults.clear()
    sandboxes.salesforce.add_latency(SALESFORCE_SECONDS, times=10**9)


def ceiling(calls: dict[str, int]) -> tuple[float, list[list[str]]]:
    """The ceiling in seconds for the calls a run made, and a table row per system's term.

    ``calls`` holds the sandboxes' counter deltas: ``salesforce``, ``billing``,
    ``erp_upserts`` and ``erp_answered`` (refused calls are not ones the run needed).
    """
    terms = [
        ("Salesforce data calls", calls["salesforce"], SALESFORCE_SECONDS, SALESFORCE_CONCURRENCY),
        ("billing requests", calls["billing"], BILLING_SECONDS, BILLING_CONCURRENCY),
        ("ERP upsertList", calls["erp_upserts"], ERP_SECONDS["upsertList"], ERP_CONCURRENCY),
        (
            "ERP other SOAP calls",
            calls["erp_answered"] - calls["erp_upserts"],
            ERP_SECONDS["*"],
            ERP_CONCURRENCY,
        ),
    ]
    rows, seconds = [], {}
    for name, count, latency, allowed in terms:
        rounds = math.ceil(count / allowed)
        seconds[name] = rounds * latency
        rows.append([name, f"{count:,}", f"{latency:.3f}", str(allowed), f"{rounds:,}",
                     f"{seconds[name]:.2f}"])  # fmt: skip
    erp = seconds["ERP upsertList"] + seconds["ERP other SOAP calls"]
    systems = {
        "Salesforce": seconds["Salesforce data calls"],
        "billing": seconds["billing requests"],
        "ERP": erp,
    }
    bound = max(systems, key=lambda name: systems[name])
    rows.append([f"ceiling ({bound})", "-", "-", "-", "-", f"{systems[bound]:.2f}"])
    return systems[bound], rows


def share_rows(run: dict[str, Any], bound: float, calls: dict[str, int]) -> list[list[str]]:
    """The engine's run against the ceiling, and what the ERP sandbox saw of its limit."""
    refused = calls["erp"] - calls["erp_answered"]
    return [
        [f"engine, {int(run['records']):,} records read ({run['status']})", "-", "-", "-", "-",
         f"{run['seconds']:.2f}"],
        [f"engine CPU (sync process; {run['cpu'] / run['seconds']:.0%} of its wall time)",
         "-", "-", "-", "-", f"{run['cpu']:.2f}"],
        [f"ceiling / engine: {bound / run['seconds']:.1%} (goal: 90%)", "-", "-", "-", "-", "-"],
        [f"ERP calls in flight at most: {calls['erp_max_in_flight']} (limit {ERP_CONCURRENCY}); "
         f"refused over the limit: {refused}", "-", "-", "-", "-", "-"],
    ]  # fmt: skip
