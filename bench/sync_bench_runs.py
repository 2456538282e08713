"""The runs ``sync_bench.py`` measures, each in a child process of its own.

The engine end to end (quote-to-cash; receivables once finance has billed the synced orders in
the ERP); (a) the floor, a hand-written map -> validate -> hash -> upsert loop, against the
engine's capture stage on the same decoded pages; (b) the naive script:
simple-salesforce reads, then one write call per record to billing and to ERP.
"""

from __future__ import annotations

import hashlib
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from simple_salesforce.api import Salesforce

from config.settings import BillingSettings, ErpSettings, RetrySettings, SalesforceSettings
from connectors.base import Connector, Page, WriteSpec
from connectors.billing.connector import BillingConnector
from connectors.erp.connector import ErpConnector
from connectors.salesforce.auth import build_http_session, open_session
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.soql import build_read_soql
from mappings.canonical import model_for
from mappings.errors import MappingError
from mappings.loader import load_mapping_set
from mappings.mapping_set import EntityMapping, MappingSet
from sync.cli.demo_receivables import bill_orders, erp_payment
from sync.engine.capture import capture_page
from sync.engine.commit import PageOutcome, commit_page
from sync.engine.flows import QUOTE_TO_CASH, Flow
from sync.engine.resolver import StoreRefResolver
from sync.engine.run import SyncEngine
from sync.engine.specs import read_spec, write_spec
from sync.store import Store
from sync.store.records import content_hashes
from sync.store.runs import start_run
from sync.store.schema import canonical_records, utc_now
from sync.store.upsert import upsert_rows

Document = dict[str, Any]
ERP_SEARCH_LAG_SECONDS = 1.5  # the ERP connector reads up to its server time less a second

# --- connectors and measurement helpers --------------------------------------------------------


def open_systems(document: Document, erp_batch: int = 100) -> dict[str, Connector]:
    """Connectors for the sandboxes in ``document`` (``erp_batch`` records per upsertList)."""
    retry = RetrySettings()
    billing = document["billing"]
    erp = ErpSettings(
        **document["erp"], batch_size=erp_batch, concurrency=1 if erp_batch == 1 else 4
    )
    return {
        "salesforce": SalesforceConnector(SalesforceSettings(**document["salesforce"]), retry),
        "billing": BillingConnector(
            BillingSettings(base_url=billing["base_url"], api_key=SecretStr(billing["api_key"])),
            retry,
        ),
        "erp": ErpConnector(erp, retry),
    }


def measured(work: Callable[[], int]) -> dict[str, float]:
    """Records, wall seconds, CPU seconds and peak RSS (MB) of ``work`` in this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    records = work()
    return {
        "records": records,
        "seconds": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class MemoryRefs:
    """Ref lookups from dicts filled as records are captured and written (floor and naive)."""

    def __init__(self) -> None:
        self.inbound: dict[tuple[str, str, str], str] = {}
        self.outbound: dict[tuple[str, str, str], str] = {}

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """The canonical id of a source record captured earlier."""
        return self.inbound.get((entity, system, system_id))

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        """The id a target gave a record written earlier."""
        return self.outbound.get((entity, system, canonical_id))


# --- the engine, end to end ----------------------------------------------------------------------


def engine_run(
    document: Document, database_url: str, erp_batch: int = 100, flow: Flow = QUOTE_TO_CASH
) -> dict[str, Any]:
    """One engine run of ``flow`` (child process); ``records`` counts what its source read."""
    store = Store(database_url)
    # As `revbridge run` with no events sink configured (sync/engine/factory.py): no outbox.
    store.record_events = False
    systems = open_systems(document, erp_batch)
    engine = SyncEngine(store, load_mapping_set(), systems, flow)
    summaries = []

    def sync() -> int:
        summaries.append(engine.run())
        source = summaries[0].systems.get(flow.source)
        return source.read if source else 0

    result = measured(sync)
    for connector in systems.values():
        connector.close()
    store.close()
    entities = len(load_mapping_set().source_entities(flow.source))
    summary = summaries[0]
    return result | {"entities": entities, "status": summary.status.value,
                     "rejected": summary.rejected}  # fmt: skip


def bill_in_erp(document: Document, database_url: str, paid_share: float) -> dict[str, Any]:
    """Finance invoices every synced, activated order in the ERP and records payments of the
    first ``paid_share`` of those invoices (child process), for the receivables flow to carry.
    """
    store = Store(database_url)
    erp = open_systems(document)["erp"]
    try:
        billed = bill_orders(store, erp, count=sys.maxsize, paid=0)
        payments = [erp_payment(b.invoice) for b in billed[: round(len(billed) * paid_share)]]
        refused = [r for r in erp.write(WriteSpec("CustomerPayment", "externalId"), payments)
                   if not r.ok]  # fmt: skip
    finally:
        erp.close()
        store.close()
    if refused:
        raise RuntimeError(f"the ERP refused {len(refused)} payments: {refused[0].error_message}")
    # An ERP search stops a second before the ERP's clock: wait until what was just saved is
    # older than that, so the measured run reads all of it.
    time.sleep(ERP_SEARCH_LAG_SECONDS)
    return {"invoices": len(billed), "payments": len(payments)}


# --- (a) the floor and the engine's capture stage on the same decoded pages ----------------------


def read_pages(mapping_set: MappingSet, document: Document) -> list[tuple[EntityMapping, Page]]:
    """Every source page of the flow, decoded by the Salesforce connector, parents first."""
    source = open_systems(document)["salesforce"]
    pages = [
        (mapping, page)
        for mapping in mapping_set.source_entities("salesforce")
        for page in source.read(read_spec(mapping), None)
    ]
    source.close()
    return pages


def floor_loop(pages: list[tuple[EntityMapping, Page]], store: Store) -> int:
    """Map -> validate -> hash -> upsert, nothing else: the cost any sync must pay."""
    refs, stored = MemoryRefs(), 0
    for mapping, page in pages:
        rows = []
        for raw in page.records:
            try:
                record = model_for(mapping.entity).model_validate(mapping.to_canonical(raw, refs))
            except (MappingError, ValueError):
                continue
            refs.inbound[(mapping.entity, mapping.system, str(raw[mapping.key_field]))] = record.id
            digest = hashlib.sha256(record.model_dump_json().encode()).hexdigest()
            rows.append({"canonical_id": record.id, "entity": mapping.entity,
                         "payload": record.model_dump(mode="json"), "content_hash": digest,
                         "source_system": mapping.system, "source_object": mapping.object_name,
                         "source_id": record.source.id, "is_deleted": False,
                         "source_modified_at": record.source_modified_at,
                         "updated_at": utc_now()})  # fmt: skip
        with store.transaction() as connection:
            upsert_rows(connection, canonical_records, rows, ["canonical_id"])
        stored += len(rows)
    return stored


def engine_capture(pages: list[tuple[EntityMapping, Page]], store: Store) -> int:
    """The engine's capture stage: capture_page, stored-hash compare, commit_page (no targets)."""
    with store.transaction() as connection:
        run_id = start_run(connection, QUOTE_TO_CASH.name)
    resolver, stored = StoreRefResolver(store.engine), 0
    for mapping, page in pages:
        captured, failures = capture_page(mapping, page.records, resolver)
        with store.engine.connect() as connection:
            hashes = content_hashes(connection, [c.record.id for c in captured])
        changed = [c for c in captured if hashes.get(c.record.id) != c.content_hash]
        outcome = PageOutcome(mapping, captured, changed, failures, (), page.cursor)
        commit_page(store, QUOTE_TO_CASH.name, outcome, run_id)
        stored += len(changed)
    return stored


def capture_vs_floor(document: Document, folder: str, repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` records/s of the floor and of the capture stage (child process).

    By wall clock (``floor``, ``capture``) and by this process's CPU time (``floor_cpu``,
    ``capture_cpu``), which other processes on the machine disturb less.
    """
    pages = read_pages(load_mapping_set(), document)
    best: dict[str, float] = {"floor": 0.0, "capture": 0.0, "floor_cpu": 0.0, "capture_cpu": 0.0}
    for attempt in range(repeat):
        for name, loop in (("floor", floor_loop), ("capture", engine_capture)):
            store = Store(f"sqlite:///{Path(folder) / f'{name}-{attempt}.db'}")
            run = measured(lambda loop=loop, store=store: loop(pages, store))  # type: ignore[misc]
            store.close()
            best[name] = max(best[name], run["records"] / run["seconds"])
            best[f"{name}_cpu"] = max(best[f"{name}_cpu"], run["records"] / run["cpu"])
            best[f"{name}_records"] = run["records"]
    return best


# --- (b) the naive script ------------------------------------------------------------------------


def naive_records(document: Document, mapping: EntityMapping) -> Iterator[dict[str, Any]]:
    """simple-salesforce queryAll of one object, attributes dropped, subqueries as lists."""
    settings = SalesforceSettings(**document["salesforce"])
    http = build_http_session(settings)
    session = open_session(http, settings)
    client = Salesforce(instance_url=session.instance_url, session=http,
                        session_id=session.access_token.get_secret_value())  # fmt: skip
    for raw in client.query_all_iter(
        build_read_soql(read_spec(mapping), None), include_deleted=True
    ):
        yield {
            name: [_plain(child) for child in value["records"]] if _is_subquery(value) else value
            for name, value in _plain(raw).items()
        }


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name != "attributes"}


def _is_subquery(value: Any) -> bool:
    return isinstance(value, dict) and "records" in value


def naive_script(document: Document) -> dict[str, Any]:
    """Read, map and write every source record, one write call per record per target."""
    mapping_set, refs = load_mapping_set(), MemoryRefs()
    systems = open_systems(document, erp_batch=1)
    failed = 0

    def sync() -> int:
        nonlocal failed
        read = 0
        for mapping in mapping_set.source_entities("salesforce"):
            targets = mapping_set.targets_for(mapping.entity, "salesforce")
            for raw in naive_records(document, mapping):
                read += 1
                failed += not _naive_one(mapping, targets, raw, systems, refs)
        return read

    result = measured(sync)
    for connector in systems.values():
        connector.close()
    return result | {"failed": failed}


def _naive_one(
    mapping: EntityMapping,
    targets: list[EntityMapping],
    raw: dict[str, Any],
    systems: dict[str, Connector],
    refs: MemoryRefs,
) -> bool:
    """True when the record landed in every target."""
    try:
        record = model_for(mapping.entity).model_validate(mapping.to_canonical(raw, refs))
        refs.inbound[(mapping.entity, mapping.system, str(raw[mapping.key_field]))] = record.id
        canonical = record.model_dump(mode="json")
        landed = True
        for target in targets:
            payload = target.from_canonical(canonical, refs)
            result = systems[target.system].write(write_spec(target), [payload])[0]
            landed = landed and result.ok
            if result.ok and result.target_id:
                refs.outbound[(target.entity, target.system, record.id)] = result.target_id
    except (MappingError, ValueError):
        return False
    return landed
