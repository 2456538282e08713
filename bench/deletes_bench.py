"""The ``propagate`` delete policy end to end over the loopback sandboxes.

Syncs ``--orders`` Salesforce orders to billing and the ERP, deletes ``--deleted`` of them in
Salesforce, and times the run that carries the deletions downstream: wall-clock seconds,
deletions per second, and the calls each target answered (billing deletes one record per
call; the ERP's ``deleteList`` takes up to ``erp.batch_size`` records).

Usage: python bench/deletes_bench.py [--orders N] [--deleted N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mappings.loader import load_mapping_set
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.deletes import DeletePolicy
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store

FLOW = replace(QUOTE_TO_CASH, deletes={"order": DeletePolicy.PROPAGATE})


def _run(sandboxes: Sandboxes, store: Store, url: str) -> RunSummary:
    with open_connectors(sandboxes.settings(url)) as connectors:
        return SyncEngine(store, load_mapping_set(), connectors, FLOW).run()


def measure(orders: int, deleted: int, url: str) -> Table:
    """One sync, ``deleted`` order deletions in Salesforce, and the timed propagating run."""
    with Sandboxes(SandboxSize(accounts=max(orders // 10, 1), orders=orders)) as sandboxes:
        store = Store(url)
        _run(sandboxes, store, url)
        invalid = sandboxes.salesforce.invalid_record_ids
        ids = [o["Id"] for o in sandboxes.salesforce.records("Order") if o["Id"] not in invalid]
        for order_id in ids[:deleted]:
            sandboxes.salesforce.delete_record("Order", order_id)
        billing_calls, erp_calls = sandboxes.billing.calls, sandboxes.erp.operations["deleteList"]
        started = time.perf_counter()
        summary = _run(sandboxes, store, url)
        seconds = time.perf_counter() - started
        store.close()
        table = Table(title=f"propagate: {deleted} of {orders} orders deleted in Salesforce")
        for column in ("target", "deleted", "rejected", "calls", "run s", "deletions/s"):
            table.add_column(column, justify="left" if column == "target" else "right")
        calls = {"billing": sandboxes.billing.calls - billing_calls,
                 "erp": sandboxes.erp.operations["deleteList"] - erp_calls}  # fmt: skip
        for system in ("billing", "erp"):
            counts = summary.by_entity["order"][system]
            table.add_row(system, str(counts.deleted), str(counts.rejected), str(calls[system]),
                          f"{seconds:.2f}", f"{counts.deleted / seconds:,.0f}")  # fmt: skip
        return table


def main() -> None:
    """Parse the options, run once, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--deleted", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    options = parser.parse_args()
    logging.getLogger("revbridge").setLevel(logging.ERROR)  # the seed's invalid records
    with tempfile.TemporaryDirectory() as folder:
        url = options.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        Console().print(measure(options.orders, options.deleted, url))


if __name__ == "__main__":
    main()
