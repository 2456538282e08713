"""Salesforce connector throughput: 100k-record reads (REST, Bulk 2.0) and upserts.

The sandbox org runs in a child process, so this process's peak RSS is the connector's own:
flat memory means the peak does not grow with the number of records read.

    .venv/bin/python bench/salesforce.py --records 100000 --writes 20000
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import RetrySettings, SalesforceSettings
from connectors.base import ReadSpec, WriteSpec
from connectors.salesforce.connector import SalesforceConnector
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings

ACCOUNTS = ReadSpec(
    "Account",
    ("Name", "AccountNumber", "CurrencyIsoCode", "BillingCity", "BillingCountry", "Phone",
     "Type", "CreatedDate"),
)  # fmt: skip
WRITES = WriteSpec("Account", "Revbridge_Id__c")


def _serve(records: int, pipe: Connection) -> None:
    sandbox = SalesforceSandbox(accounts=records, orders=1, products=1, invalid_records=False,
                                cpq=False, daily_api_limit=10_000_000,
                                bulk_polls_before_complete=0)  # fmt: skip
    with sandbox:
        pipe.send(salesforce_settings(sandbox).model_dump(mode="json") | {
            "password": sandbox.credentials.password,
            "security_token": sandbox.credentials.security_token,
            "client_secret": sandbox.credentials.client_secret,
        })  # fmt: skip
        pipe.recv()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(connector: SalesforceConnector, work: Callable[[], int]) -> dict[str, Any]:
    calls, start = connector.api_calls, time.perf_counter()
    count = work()
    seconds = time.perf_counter() - start
    used = connector.api_calls - calls
    return {"records": count, "calls": used, "seconds": seconds, "per_call": count / used,
            "per_second": count / seconds, "peak_rss_mb": _peak_rss_mb()}  # fmt: skip


def _read(connector: SalesforceConnector) -> int:
    return sum(len(page.records) for page in connector.read(ACCOUNTS, None))


def _write(connector: SalesforceConnector, count: int, batch: int, tag: str) -> int:
    written = 0
    for start in range(0, count, batch):
        payloads = [{"Revbridge_Id__c": f"{tag}-{n}", "Name": f"Bench {n}", "Phone": None}
                    for n in range(start, min(start + batch, count))]  # fmt: skip
        written += sum(r.ok for r in connector.write(WRITES, payloads))
    return written


def main() -> None:
    """Run every scenario once and print the results table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=20_000)
    args = parser.parse_args()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(args.records, child))
    server.start()
    base = SalesforceSettings(**parent.recv())
    start_rss = _peak_rss_mb()

    def connector(**overrides: Any) -> SalesforceConnector:
        settings = base.model_copy(
            update={"bulk_poll_seconds": 0.05, "bulk_result_page": 50_000, **overrides}
        )
        return SalesforceConnector(settings, RetrySettings())

    rest, bulk = connector(bulk_read_threshold=0), connector(bulk_read_threshold=1)
    collections, ingest = connector(bulk_write_threshold=0), connector(bulk_write_threshold=1)
    rows = [
        ("read, REST queryAll (2,000/page)", _timed(rest, lambda: _read(rest))),
        ("read, Bulk API 2.0 (50,000/download)", _timed(bulk, lambda: _read(bulk))),
        ("upsert, 5 Collections a Composite (1,000/call)",
         _timed(collections, lambda: _write(collections, args.writes, 2000, "rest"))),
        ("upsert, Bulk API 2.0 ingest (10,000/job)",
         _timed(ingest, lambda: _write(ingest, args.writes, 10_000, "bulk"))),
    ]  # fmt: skip
    parent.send("stop")
    server.join()
    print(f"sandbox org: {args.records:,} accounts (child process); "
          f"bench process RSS before the runs: {start_rss:.0f} MB")  # fmt: skip
    print(f"| {'scenario':<42} | records | API calls | records/call | records/s | peak RSS MB |")
    print(f"|{'-' * 44}|---------|-----------|--------------|-----------|-------------|")
    for name, r in rows:
        print(f"| {name:<42} | {r['records']:>7,} | {r['calls']:>9,} | {r['per_call']:>12,.0f} "
              f"| {r['per_second']:>9,.0f} | {r['peak_rss_mb']:>11.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
