"""Memory of an ERP change read: 1,000-record search pages of wide invoices.

The ERP sandbox (in this process) holds ``--invoices`` invoices of ``--lines`` item lines each.
A fresh child process reads them all through ``ErpConnector.read`` at ``--page-size`` records a
page, consuming each page and dropping it as the engine does, and reports:

- the peak of Python allocations during the read (tracemalloc: zeep's objects and the plain
  records; libxml2's own buffers are not Python allocations and show only in RSS);
- its resident set before the read (after the WSDL is loaded) and its peak during the read.

Run it before and after a change to ``connectors/erp/reads.py`` and compare the rows::

    .venv/bin/python bench/erp_read_memory.py --invoices 3000 --lines 20 --page-size 1000

On 2 shared cores, 3,000 invoices x 20 lines in three 1,000-record pages: with the zeep reply
of a page kept beside its plain records, Python peak 68.7 MiB and RSS 72 -> 316 MiB; with each
page freed as it is converted (``connectors/erp/reads.py``), 44.5 MiB and 72 -> 242 MiB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import resource
import time
import tracemalloc
from typing import Any

from config.settings import ErpSettings, RetrySettings
from connectors.base import ReadSpec, WriteSpec
from connectors.erp.connector import ErpConnector
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

INVOICES = ReadSpec("Invoice", ("tranId",), key_field="internalId")
_START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp()


class _PastClock:
    """Distinct stamps a second apart in the past, so one read finds every record."""

    def __init__(self) -> None:
        self._now = _START

    def __call__(self) -> float:
        self._now += 1
        return self._now


def _seed(settings: ErpSettings, invoices: int, lines: int) -> None:
    connector = ErpConnector(settings, RetrySettings(), wsdl_cache=None)
    try:
        customers = [{"externalId": f"c{n}", "companyName": f"Customer {n}"} for n in range(50)]
        connector.write(WriteSpec("Customer", "externalId"), customers)
        items = [{"externalId": f"i{n}", "itemId": f"ITEM-{n}", "displayName": f"Item {n}",
                  "rate": "10.00"} for n in range(lines)]  # fmt: skip
        connector.write(WriteSpec("ServiceSaleItem", "externalId"), items)
        payloads = [_invoice(n, lines) for n in range(invoices)]
        for start in range(0, invoices, 500):
            connector.write(WriteSpec("Invoice", "externalId"), payloads[start : start + 500])
    finally:
        connector.close()


def _invoice(number: int, lines: int) -> dict[str, Any]:
    return {
        "externalId": f"inv-{number}",
        "entity": {"externalId": f"c{number % 50}"},
        "tranDate": "2026-01-02",
        "dueDate": "2026-02-01",
        "tranId": f"INV-{number:06d}",
        "total": str(20 * lines),
        "memo": f"Invoice {number} for the annual subscription, billed in advance " * 3,
        "itemList": {
            "item": [
                {
                    "item": {"externalId": f"i{line}"},
                    "line": str(line + 1),
                    "quantity": "2",
                    "rate": "10.00",
                    "amount": "20.00",
                }
                for line in range(lines)
            ]
        },
    }


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _read(settings: ErpSettings, answer: Any) -> None:
    connector = ErpConnector(settings, RetrySettings(), wsdl_cache=None)
    connector.check()  # WSDL loaded: what every read starts with
    before = _rss_kib()
    tracemalloc.start()
    started = time.perf_counter()
    records = pages = 0
    peak_rss = before
    for page in connector.read(INVOICES, None):
        records += len(page.records)
        pages += 1
        peak_rss = max(peak_rss, _rss_kib())
        del page
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    connector.close()
    answer.send((records, pages, peak, before, max(peak_rss, max_rss), seconds))


def main() -> None:
    """Seed, read in a child process, print one row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--page-size", type=int, default=1000)
    options = parser.parse_args()
    with ErpSandbox(clock=_PastClock()) as sandbox:
        settings = erp_settings(sandbox, search_page_size=options.page_size)
        _seed(settings, options.invoices, options.lines)
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        reader = context.Process(target=_read, args=(settings, send))
        reader.start()
        records, pages, peak, before, max_rss, seconds = receive.recv()
        reader.join()
    print("| invoices x lines | page size | pages | Python peak MiB | RSS before MiB "
          "| RSS peak MiB | read s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    peak_mib, before_mib, max_mib = peak / 2**20, before / 1024, max_rss / 1024
    print(
        f"| {records} x {options.lines} | {options.page_size} | {pages} | {peak_mib:.1f} | "
        f"{before_mib:.0f} | {max_mib:.0f} | {seconds:.1f} |"
    )


if __name__ == "__main__":
    main()
