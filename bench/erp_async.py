"""NetSuite ``asyncUpsertList`` against ``upsertList``: SOAP calls per 1,000 records and records/s.

Writes the same sales orders (3 lines each) to the loopback SuiteTalk sandbox through the
synchronous path (``upsertList``, 100 a call, as the engine writes) and through
``connectors/erp/async_lists.py`` (``asyncUpsertList`` jobs of 200, each polled with
``checkAsyncStatus`` until done, then read with ``getAsyncResult``). Calls are counted by the
sandbox, polls and retries included. The sandbox finishes a job on its K-th status check and
spends no time in a queue, so the async records/s here is an upper bound: in NetSuite a job
waits in the account's queue for seconds to minutes. ``--realistic`` puts issue 14's NetSuite
profile on the sandbox (``sync_bench_ceiling.py``: 1.5 s per upsertList, 0.3 s per other call,
4 calls in flight at most); the async calls are "other" calls there.

Usage: python bench/erp_async.py [--records N] [--repeat N] [--realistic]
(``bench/erp.py`` prints the same table after its own, for ``make bench``.)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import tenacity
from rich.console import Console
from rich.table import Table
from sync_bench_ceiling import ERP_CONCURRENCY, ERP_SECONDS

from config.settings import RetrySettings
from connectors.base import WriteSpec
from connectors.erp.async_lists import AsyncListWriter, PollPolicy
from connectors.erp.connector import ErpConnector
from connectors.erp.records import RecordBuilder, record_kind
from connectors.erp.soap import SoapSession
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

Orders = Callable[[int, int], list[dict[str, Any]]]
Seed = Callable[[ErpConnector], None]
Write = Callable[[list[dict[str, Any]]], int]
# (path label, sync concurrency or None for async, status checks a job takes)
PATHS: tuple[tuple[str, int | None, int], ...] = (
    ("upsertList, 1 call at a time", 1, 0),
    ("upsertList, 4 calls at a time", 4, 0),
    ("asyncUpsertList, done on 1st check", None, 1),
    ("asyncUpsertList, done on 3rd check", None, 3),
)


def _sync_writer(sandbox: ErpSandbox, concurrency: int) -> tuple[Write, Callable[[], None]]:
    erp = ErpConnector(
        erp_settings(sandbox, concurrency=concurrency), RetrySettings(), wsdl_cache=None
    )
    erp.check()  # loads the WSDL: not part of the write

    def write(payloads: list[dict[str, Any]]) -> int:
        results = erp.write(WriteSpec("SalesOrder", "externalId"), payloads)
        return sum(result.ok for result in results)

    return write, erp.close


def _async_writer(sandbox: ErpSandbox, checks: int) -> tuple[Write, Callable[[], None]]:
    sandbox.configure_async_jobs(checks_to_finish=checks)
    soap = SoapSession(erp_settings(sandbox), RetrySettings(), wsdl_cache=None, sleep=time.sleep)
    # The sandbox's jobs finish by check count, not time: polling at once costs no extra calls.
    poll = PollPolicy(wait=tenacity.wait_none(), sleep=time.sleep)
    writer = AsyncListWriter(soap, RecordBuilder(soap.type), poll)
    order_type = soap.type(record_kind("SalesOrder").namespace, "SalesOrder")  # loads the WSDL

    def write(payloads: list[dict[str, Any]]) -> int:
        results = writer.upsert_async([(order_type, payload) for payload in payloads])
        return sum(result.ok for result in results)

    return write, soap.close


def _measure(
    sandbox: ErpSandbox, path: tuple[str, int | None, int], payloads: list[dict[str, Any]]
) -> tuple[float, int]:
    """(seconds, SOAP calls) for one write of ``payloads`` by ``path``; WSDL load excluded."""
    label, concurrency, checks = path
    write, close = (
        _sync_writer(sandbox, concurrency)
        if concurrency is not None
        else _async_writer(sandbox, checks)
    )
    try:
        calls_before = sandbox.calls
        started = time.perf_counter()
        landed = write(payloads)
        seconds = time.perf_counter() - started
        calls = sandbox.calls - calls_before
    finally:
        close()
    if landed != len(payloads):
        raise SystemExit(f"{label}: {len(payloads) - landed} orders were rejected")
    return seconds, calls


def async_table(
    sandbox: ErpSandbox, records: int, repeat: int, orders: Orders, seed: Seed, realistic: bool
) -> Table:
    """The comparison as a table of medians over ``repeat`` runs of each path."""
    erp = ErpConnector(erp_settings(sandbox), RetrySettings(), wsdl_cache=None)
    seed(erp)
    erp.close()
    if realistic:
        sandbox.set_call_latency(ERP_SECONDS, concurrency_limit=ERP_CONCURRENCY)
    title = f"ERP upsertList vs asyncUpsertList: {records:,} sales orders, loopback sandbox"
    profile = "issue 14's NetSuite latencies" if realistic else "no added latency"
    table = Table(title=f"{title}, {profile} (medians of {repeat})")
    for column in ("path", "calls", "calls / 1,000 records", "records/s"):
        table.add_column(column, justify="right")
    run = 10_000  # externalIds apart from bench/erp.py's runs in the same sandbox
    for path in PATHS:
        measured: list[tuple[float, int]] = []
        for _ in range(repeat):
            run += 1
            measured.append(_measure(sandbox, path, orders(records, run)))
        seconds = statistics.median(s for s, _ in measured)
        calls = statistics.median(c for _, c in measured)
        table.add_row(
            path[0], f"{calls:,.0f}", f"{1000 * calls / records:.1f}", f"{records / seconds:,.0f}"
        )
    sandbox.set_call_latency({})
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Run the comparison and print it."""
    from erp import _orders, _seed  # noqa: PLC0415 - bench/erp.py imports this module

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--realistic", action="store_true", help="issue 14's NetSuite profile")
    args = parser.parse_args(argv)
    with ErpSandbox() as sandbox:
        table = async_table(sandbox, args.records, args.repeat, _orders, _seed, args.realistic)
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
