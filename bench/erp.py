"""Throughput of the ERP connector's ``upsertList`` against the loopback SuiteTalk sandbox.

Prints records per second and per call for batches of 1, 25 and 100 sales orders (3 lines
each), and the share of the client's time spent in zeep: building typed records from payloads,
serialising envelopes, and reading replies. The sandbox runs in the same process, so its own XML
work competes for the same core; the shares are of the client's wall-clock time. A second
table compares ``upsertList`` with ``asyncUpsertList`` jobs (calls per 1,000 records, polls
included, and records/s; see ``bench/erp_async.py``).

Usage: python bench/erp.py [--records N] [--repeat N]
"""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from erp_async import async_table
from rich.console import Console
from rich.table import Table
from zeep.wsdl.bindings.soap import SoapBinding

from config.settings import RetrySettings
from connectors.base import WriteSpec
from connectors.erp import soap as erp_soap
from connectors.erp.connector import ErpConnector
from connectors.erp.records import RecordBuilder
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

BATCH_SIZES = (1, 25, 100)
LINES_PER_ORDER = 3


class Stopwatch:
    """Seconds spent inside wrapped callables, per label (thread-unsafe: runs use one thread)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def wrapping(self, owner: Any, name: str, label: str) -> Iterator[None]:
        """Time every call of ``owner.name`` while the block runs."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        setattr(owner, name, timed)
        try:
            yield
        finally:
            setattr(owner, name, original)


def _orders(count: int, run: int) -> list[dict[str, Any]]:
    return [
        {
            "externalId": f"rb-ord-{run}-{n}",
            "entity": {"externalId": "rb-acc-1"},
            "tranDate": "2026-01-05",
            "orderStatus": "_pendingFulfillment",
            "currency": {"internalId": "1"},
            "itemList": {
                "item": [
                    {
                        "item": {"externalId": f"rb-prod-{line}"},
                        "quantity": "2",
                        "rate": "600.00",
                        "amount": "1200.00",
                    }
                    for line in range(LINES_PER_ORDER)
                ]
            },
        }
        for n in range(count)
    ]


def _seed(erp: ErpConnector) -> None:
    erp.write(WriteSpec("Customer", "externalId"), [{"externalId": "rb-acc-1", "companyName": "A"}])
    items = [{"externalId": f"rb-prod-{n}", "itemId": f"P{n}"} for n in range(LINES_PER_ORDER)]
    erp.write(WriteSpec("ServiceSaleItem", "externalId"), items)


def _one_run(sandbox: ErpSandbox, batch_size: int, records: int, run: int) -> dict[str, float]:
    settings = erp_settings(sandbox, batch_size=batch_size, concurrency=1)
    erp = ErpConnector(settings, RetrySettings(), wsdl_cache=None)
    _seed(erp)
    payloads = _orders(records, run)
    calls_before = sandbox.calls
    watch = Stopwatch()
    with (
        watch.wrapping(RecordBuilder, "build", "build"),
        watch.wrapping(SoapBinding, "_create", "serialise"),
        # upsertList answers are read by connectors.erp.replies, not zeep's process_reply.
        watch.wrapping(erp_soap, "write_answers", "parse"),
    ):
        started = time.perf_counter()
        results = erp.write(WriteSpec("SalesOrder", "externalId"), payloads)
        elapsed = time.perf_counter() - started
    erp.close()
    if not all(result.ok for result in results):
        raise SystemExit("the benchmark's orders were rejected; the sandbox disagrees with it")
    calls = sandbox.calls - calls_before
    return {"seconds": elapsed, "calls": calls, **watch.seconds}


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run.get(key, 0.0) for run in runs)


def _row(batch_size: int, records: int, runs: list[dict[str, float]]) -> list[str]:
    seconds = _median(runs, "seconds")
    calls = _median(runs, "calls")

    def share(label: str) -> str:
        return f"{100 * _median(runs, label) / seconds:.0f}%"

    return [
        str(batch_size),
        f"{records:,}",
        f"{calls:,.0f}",
        f"{records / seconds:,.0f}",
        f"{1000 * seconds / calls:.1f}",
        share("build"),
        share("serialise"),
        share("parse"),
        f"{100 * sum(_median(runs, k) for k in ('build', 'serialise')) / seconds:.0f}%",
    ]


def main(argv: list[str] | None = None, report: Callable[[Table], None] | None = None) -> None:
    """Run every batch size ``--repeat`` times and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000, help="orders per run (batch 1: /5)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    table = Table(title="ERP upsertList: sales orders with 3 lines, loopback sandbox (medians)")
    for column in (
        "batch",
        "records",
        "calls",
        "records/s",
        "ms/call",
        "build %",
        "serialise %",
        "parse %",
        "build+serialise %",
    ):
        table.add_column(column, justify="right")
    with ErpSandbox() as sandbox:
        run = 0
        for batch_size in BATCH_SIZES:
            # One record a call is slow by design; fewer records keep the run short.
            records = args.records // 5 if batch_size == 1 else args.records
            runs = []
            for _ in range(args.repeat):
                run += 1
                runs.append(_one_run(sandbox, batch_size, records, run))
            table.add_row(*_row(batch_size, records, runs))
        async_lists = async_table(sandbox, args.records, args.repeat, _orders, _seed, False)
    for printed in (table, async_lists):
        (report or Console(width=120).print)(printed)


if __name__ == "__main__":
    main()
