"""Issue 18's reconcile benchmark: `revbridge reconcile` over 10,000 and 100,000 canonical records.

Per size: the sandboxes are seeded and a first sync fills the store and the targets (not
measured); then one reconcile of every flow runs in a child process of its own, through the
same internals as the command (:func:`sync.assurance.reconcile.reconcile` with
:func:`~sync.assurance.reading.reading_settings`). It prints the list pages read per system
against the fewest the platforms' page sizes allow for the objects each target holds (goal:
equal), every API call the sandboxes served, records per second (canonical records compared),
the findings, and the reconcile process's peak RSS, with the 100k/10k ratio (goal: <= 1.2x).

    .venv/bin/python bench/reconcile_bench.py                    # 10,000 and 100,000 (~6 min)
    .venv/bin/python bench/reconcile_bench.py --sizes 2000       # a quick look
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
import sqlalchemy as sa
from pydantic import SecretStr
from sync_bench import SandboxHost, print_table, run_in_child
from sync_bench_runs import Document, engine_run, measured

from config.settings import BillingSettings, ErpSettings, FlowSettings, SalesforceSettings, Settings
from mappings.loader import load_mapping_set
from sync.assurance.reading import (
    BILLING_JSON_LARGEST_PAGE,
    ERP_LARGEST_PAGE,
    SALESFORCE_LARGEST_PAGE,
    reading_settings,
)
from sync.assurance.reconcile import ReconcileRequest, reconcile
from sync.engine.connections import open_connectors
from sync.engine.flows import flows_from_settings
from sync.store import Store
from sync.store.schema import canonical_records, xref

LARGEST_PAGE = {
    "salesforce": SALESFORCE_LARGEST_PAGE,
    "erp": ERP_LARGEST_PAGE,
    "billing": BILLING_JSON_LARGEST_PAGE,  # the sandboxes' billing is the generic JSON API
}
SYSTEMS = ("salesforce", "billing", "erp")


def _ports(document: Document) -> dict[int | None, str]:
    """Each sandbox's port -> its system (they all listen on loopback)."""
    urls = {
        "salesforce": document["salesforce"].get("instance_url")
        or document["salesforce"]["login_url"],
        "billing": document["billing"]["base_url"],
        "erp": document["erp"]["endpoint_url"],
    }
    return {urlsplit(url).port: system for system, url in urls.items()}


def _call_kind(system: str, request: requests.PreparedRequest) -> str:
    """ "list" for a call that reads a page of a whole object, else what else it was."""
    path = urlsplit(request.url or "").path
    if system == "salesforce":
        return "list" if "/query" in path else f"other {request.method} {path.split('/')[-1]}"
    if system == "billing":
        parts = [part for part in path.split("/") if part]
        return "list" if request.method == "GET" and len(parts) == 2 else f"other {request.method}"
    action = str(request.headers.get("SOAPAction", "")).strip('"')
    if action in ("search", "searchMoreWithId"):
        return "list"
    return f"other {action or request.method}"  # no SOAPAction: the WSDL's GET


@contextmanager
def counted_calls(document: Document) -> Iterator[Counter[tuple[str, str]]]:
    """Every HTTP call this process makes to the sandboxes, by system and kind, while inside."""
    ports, calls = _ports(document), Counter[tuple[str, str]]()
    send = requests.adapters.HTTPAdapter.send

    def counting(adapter: Any, request: requests.PreparedRequest, *args: Any, **kw: Any) -> Any:
        system = ports.get(urlsplit(request.url or "").port, "other")
        calls[(system, _call_kind(system, request))] += 1
        return send(adapter, request, *args, **kw)

    requests.adapters.HTTPAdapter.send = counting  # type: ignore[method-assign,assignment]
    try:
        yield calls
    finally:
        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]


def settings_of(document: Document, database_url: str) -> Settings:
    """Validated settings for the sandboxes in ``document`` and the store at ``database_url``."""
    return Settings(
        database_url=database_url,
        salesforce=SalesforceSettings(**document["salesforce"]),
        billing=BillingSettings(
            base_url=document["billing"]["base_url"],
            api_key=SecretStr(document["billing"]["api_key"]),
        ),
        erp=ErpSettings(**document["erp"]),
        flows=[FlowSettings(**flow) for flow in document["flows"]],
    )


def fewest_pages(store: Store, scope: list[tuple[str, str]]) -> Counter[str]:
    """Per system, the fewest list pages that hold what it holds of each entity reconciled.

    What a target holds is what the first sync wrote there (the xref); a list of an empty
    object still costs one call.
    """
    fewest: Counter[str] = Counter()
    with store.engine.connect() as connection:
        for system, entity in sorted(set(scope)):
            count = sa.select(sa.func.count()).where(
                xref.c.system == system, xref.c.entity == entity
            )
            held = connection.execute(count).scalar_one()
            fewest[system] += max(1, math.ceil(held / LARGEST_PAGE[system]))
    return fewest


def reconcile_run(document: Document, database_url: str) -> dict[str, Any]:
    """One reconcile of every flow (child process): time, CPU, peak RSS, pages, findings."""
    settings = settings_of(document, database_url)
    mapping_set = load_mapping_set()
    store = Store(database_url)
    flows = list(flows_from_settings(settings).values())
    request = ReconcileRequest(flows=flows, settings=settings)
    reports = []
    try:
        with (
            counted_calls(document) as calls,
            open_connectors(reading_settings(settings)) as connectors,
        ):

            def work() -> int:
                reports.append(reconcile(store, mapping_set, connectors, request))
                with store.engine.connect() as connection:
                    count = sa.select(sa.func.count()).select_from(canonical_records)
                    return int(connection.execute(count).scalar_one())

            result = measured(work)
        report = reports[0]
        # The scope names each compared target, and the flow's source for the checks read from
        # the store alone (unbilled, orphans): a flow's source is never one of its targets.
        sources = {flow.name: flow.source for flow in flows}
        targets = [(s, e) for f, e, s in report.scope if s != sources[f]]
        fewest = fewest_pages(store, targets)
    finally:
        store.close()
    return result | {
        "pages": dict(report.pages),
        "lists": {system: calls[(system, "list")] for system in SYSTEMS},
        "others": {f"{system} {kind}": n for (system, kind), n in calls.items() if kind != "list"},
        "fewest": dict(fewest),
        "findings": len(report.findings),
        "kinds": dict(Counter(str(finding.kind) for finding in report.findings)),
        "skipped": [f"{system} {name}" for system, name in report.skipped],
    }


def bench_size(records: int, folder: str) -> tuple[dict[str, Any], list[str], list[list[str]]]:
    """Seed, sync, then reconcile ``records`` source records; the run and its table rows."""
    host = SandboxHost(records)
    url = f"sqlite:///{Path(folder) / f'reconcile-{records}.db'}"
    try:
        synced = run_in_child(engine_run, host.document, url)
        before = host.counters()
        run = run_in_child(reconcile_run, host.document, url)
        after = host.counters()
    finally:
        host.stop()
    served = {"salesforce": after["salesforce"] - before["salesforce"],
              "billing": after["billing"] - before["billing"],
              "erp": after["erp_answered"] - before["erp_answered"]}  # fmt: skip
    lists, fewest = run["lists"], run["fewest"]
    rows = [
        [system, f"{lists[system]:,}", f"{fewest.get(system, 0):,}",
         "yes" if lists[system] == fewest.get(system, 0) else "**no**",
         f"{run['pages'].get(system, 0):,}", f"{served[system]:,}"]
        for system in SYSTEMS
    ]  # fmt: skip
    n = int(run["records"])
    others = ", ".join(f"{name.replace(' other', '')} {count}"
                       for name, count in sorted(run["others"].items()))  # fmt: skip
    summary = [
        f"{n:,} canonical records ({int(synced['records']):,} read by the first sync) compared "
        f"in {run['seconds']:.1f} s: {n / run['seconds']:,.0f} records/s, "
        f"{run['cpu'] / max(1, n) * 1000:.2f} CPU s per 1,000; peak RSS {run['rss_mb']:.0f} MB.",
        f"{run['findings']} findings {run['kinds']}.",
        f"Calls besides lists: {others}.",
    ]
    if run["skipped"]:
        summary.append(f"Not listable yet, skipped: {', '.join(run['skipped'])}.")
    return run, summary, rows


HEADER = ("system", "list calls", "fewest the page sizes allow", "equal",
          "pages with records", "all calls the sandbox served")  # fmt: skip


def main() -> None:
    """Run each size, print its table, then the peak RSS ratio of the largest to the smallest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="source records, comma-separated")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sizes = [int(text) for text in args.sizes.split(",") if text.strip()]
    runs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            runs[size], summary, rows = bench_size(size, folder)
            title = f"~{size:,} source records: one reconcile of every flow"
            print_table("\n".join([title, *summary]), rows, HEADER)
    smallest = min(runs)
    peaks = [[f"{size:,}", f"{int(run['records']):,}", f"{run['records'] / run['seconds']:,.0f}",
              f"{run['rss_mb']:.0f}", f"{run['rss_mb'] / runs[smallest]['rss_mb']:.2f}x"]
             for size, run in runs.items()]  # fmt: skip
    header = ("size", "canonical records", "records/s", "peak RSS MB", f"RSS / {smallest:,}'s")
    print_table("Reconcile by size (goal: peak RSS at 100k <= 1.2x the 10k figure)", peaks, header)


if __name__ == "__main__":
    main()
