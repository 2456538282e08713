"""The Salesforce sandbox's memory at N source records, and the ERP sandbox's per written record.

Seeds the org in this process as the benchmarks' sandbox host does (``sync_bench.sandbox_size``),
then reads every Salesforce entity of the quote-to-cash flow with the SOQL the engine sends,
page by page, through the org's own query path (no HTTP: this measures the sandbox, not the
client). Prints the RSS after seeding, after each entity, the slowest first page (the client
gives up after 30 s) and the peak. ``--erp N`` then upserts N sales orders into an ERP store and
prints what each costs::

    .venv/bin/python bench/sandbox_memory.py 1000000 --erp 1000000
    .venv/bin/python bench/sandbox_memory.py 100000 --packed-budget-mb 0   # regenerate only
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync_bench import sandbox_size

from connectors.salesforce.soql import build_read_soql
from mappings.loader import load_mapping_set
from sandboxes.erp.store import ErpStore
from sandboxes.salesforce.on_demand import PACKED_BUDGET_MB
from sandboxes.salesforce.org import SandboxOrg
from sync.engine.specs import read_spec

VERSION = "62.0"


def rss_mb() -> float:
    """This process's resident memory, in MB."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def read_entity(org: SandboxOrg, soql: str) -> tuple[int, float]:
    """Read every page of one query; the rows read and the seconds to the first page."""
    started = time.perf_counter()
    page = org.run_query(soql, True, 2000, VERSION)
    first = time.perf_counter() - started
    rows = len(page["records"])
    while not page["done"]:
        page = org.query_more(page["nextRecordsUrl"].rsplit("/", 1)[1], VERSION)
        rows += len(page["records"])
    return rows, first


def measure_salesforce(records: int, packed_budget_mb: int) -> None:
    """Seed, then read each entity; print memory and time as it goes."""
    size = sandbox_size(records)
    started = time.perf_counter()
    org = SandboxOrg(
        page_size=2000, daily_api_limit=10**9, accounts=size.accounts, orders=size.orders,
        products=size.products, invalid_records=size.invalid_records,
        packed_budget_mb=packed_budget_mb,
    )  # fmt: skip
    held = sum(len(r) for r in org.records.values())
    print(f"seeded {held} records in {time.perf_counter() - started:.0f} s: rss "
          f"{rss_mb():.0f} MB, {_load()}", flush=True)  # fmt: skip
    slowest = 0.0
    for mapping in load_mapping_set().source_entities("salesforce"):
        if mapping.cursor_field is None:
            continue  # read with its parent
        started = time.perf_counter()
        rows, first = read_entity(org, build_read_soql(read_spec(mapping), None))
        slowest = max(slowest, first)
        print(f"{mapping.entity}: {rows} rows in {time.perf_counter() - started:.0f} s, first "
              f"page {first:.1f} s, rss {rss_mb():.0f} MB, {_load()}", flush=True)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"salesforce: slowest first page {slowest:.1f} s, rss {rss_mb():.0f} MB, peak "
          f"{peak:.0f} MB", flush=True)  # fmt: skip


def measure_erp(records: int) -> None:
    """Upsert ``records`` sales orders of three lines; print bytes per record held."""
    store = ErpStore()
    customer = store.upsert("Customer", {"externalId": "rb-acc-1", "companyName": "Acme"})
    item = store.upsert("ServiceSaleItem", {"externalId": "rb-item-1", "itemId": "Plan"})
    before = rss_mb()
    started = time.perf_counter()
    for number in range(records):
        lines = [{"item": {"internalId": item.internal_id}, "quantity": float(number % 50 + 1),
                  "rate": 99.0, "amount": float(number % 5000)} for line in range(3)]  # fmt: skip
        outcome = store.upsert("SalesOrder", {
            "externalId": f"rb-ord-{number:08d}", "entity": {"internalId": customer.internal_id},
            "tranDate": "2026-01-05T10:00:00Z", "memo": f"Order {number}",
            "itemList": {"item": lines},
        })  # fmt: skip
        if outcome.internal_id is None:
            raise SystemExit(f"the ERP refused a sales order: {outcome.code} {outcome.message}")
    grown, packed = rss_mb() - before, store.records.packed_bytes / max(records, 1)
    print(f"erp: {records} sales orders in {time.perf_counter() - started:.0f} s, "
          f"{grown:.0f} MB ({grown * 2**20 / max(records, 1):.0f} bytes a record, packed "
          f"{packed:.0f}), {_load()}", flush=True)  # fmt: skip


def main() -> None:
    """Parse arguments and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=int, help="source records to seed (about)")
    parser.add_argument("--packed-budget-mb", type=int, default=PACKED_BUDGET_MB)
    parser.add_argument("--erp", type=int, default=0, help="sales orders to write to the ERP")
    args = parser.parse_args()
    measure_salesforce(args.records, args.packed_budget_mb)
    if args.erp:
        measure_erp(args.erp)


if __name__ == "__main__":
    main()
