"""A run writes the ERP in full upsertList calls across pages and entities, and never sends a
record with (or before the answer for) a record it refers to; over the wire, both databases."""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from lxml import etree  # type: ignore[import-untyped]

from connectors.erp.connector import ErpConnector
from connectors.errors import TransientError
from mappings.mapping_set import MappingSet
from sandboxes.erp import operations as erp_operations
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import QUOTE_TO_CASH
from sync.store import Store
from sync.store.schema import RunStatus, xref
from tests.integration.cpq_harness import cpq_sandboxes, run_flow

# Odd sizes, so that no entity's records fill whole calls of 100.
SIZE = SandboxSize(accounts=37, orders=117, products=9, invalid_records=False)


@dataclass
class UpsertCall:
    """One upsertList the ERP sandbox answered: when it started and ended (one clock), what."""

    started: int
    records: list[tuple[str, set[str]]]  # (externalId, externalIds it refers to)
    ended: int = -1


@dataclass
class UpsertLog:
    """Every upsertList call, in the order they started."""

    calls: list[UpsertCall] = field(default_factory=list)
    _clock: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, request: etree._Element) -> UpsertCall:
        records = [
            (
                record.get("externalId"),
                {el.get("externalId") for el in record.iter() if el is not record} - {None},
            )
            for record in request
            if etree.QName(record).localname == "record"
        ]
        with self._lock:
            call = UpsertCall(next(self._clock), records)
            self.calls.append(call)
        return call

    def end(self, call: UpsertCall) -> None:
        with self._lock:
            call.ended = next(self._clock)


def erp_xrefs(connection: sa.Connection) -> list[str]:
    """Canonical ids (the ERP's externalIds) of the records revbridge recorded as in the ERP."""
    query = sa.select(xref.c.canonical_id).where(xref.c.system == "erp")
    return list(connection.execute(query).scalars())


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandboxes, UpsertLog]]:
    """Seeded sandboxes whose ERP notes every upsertList call."""
    log = UpsertLog()
    answer = erp_operations._OPERATIONS["upsertList"]

    def noted(request, header, store, searches):  # type: ignore[no-untyped-def]
        call = log.start(request)
        try:
            return answer(request, header, store, searches)
        finally:
            log.end(call)

    monkeypatch.setitem(erp_operations._OPERATIONS, "upsertList", noted)
    with cpq_sandboxes(SIZE) as running:
        yield running, log


def test_a_first_sync_packs_entities_into_full_calls_and_parents_land_first(
    sandboxes: tuple[Sandboxes, UpsertLog], store: Store, mapping_set: MappingSet
) -> None:
    running, log = sandboxes

    summary = run_flow(running, store, mapping_set, QUOTE_TO_CASH, page_size=200)

    assert summary.status is RunStatus.SUCCEEDED, summary.message
    sent = Counter(external_id for call in log.calls for external_id, _ in call.records)
    assert set(sent.values()) == {1}, "each record went once"
    created = [summary.counts(entity, "erp").created for entity in summary.by_entity]
    landed = sum(created)
    assert landed == len(sent) == sum(running.erp.upsert_count.values())
    # Written per entity and page of 50, as before packing, each page ends on a partial call.
    # Packed, the 46 accounts and products share the first call, which nothing later can join
    # (every other record refers to an account or a product): one call over the bare minimum.
    assert len(log.calls[0].records) == 46
    assert len(log.calls) == math.ceil((landed - 46) / 100) + 1
    assert len(log.calls) < sum(math.ceil(n / 50) for n in created)  # 6 vs 13
    # A record goes in a later call than every record it refers to, once that call answered.
    call_of = {external_id: call for call in log.calls for external_id, _ in call.records}
    for call in log.calls:
        for external_id, refs in call.records:
            for parent in refs & call_of.keys():
                assert call_of[parent].ended < call.started, (external_id, parent)

    calls = len(log.calls)
    again = run_flow(running, store, mapping_set, QUOTE_TO_CASH, page_size=200)
    assert again.status is RunStatus.SUCCEEDED
    assert len(log.calls) == calls, "nothing changed: nothing written"


def test_a_run_failing_while_writes_are_held_loses_nothing_and_the_rerun_completes(
    sandboxes: tuple[Sandboxes, UpsertLog], store: Store, mapping_set: MappingSet
) -> None:
    running, log = sandboxes
    settings = running.settings(store.url)
    erp = ErpConnector(settings.erp, settings.retry, wsdl_cache=None)
    send = erp.write_packed

    def failing_midway(writes, *, hold_partial=False):  # type: ignore[no-untyped-def]
        if len(running.erp.records) >= 150:  # some pages are committed but for held writes
            raise TransientError("NetSuite went away", system="erp")
        return send(writes, hold_partial=hold_partial)

    erp.write_packed = failing_midway  # type: ignore[method-assign]

    failed = run_flow(running, store, mapping_set, QUOTE_TO_CASH, page_size=200, erp=erp)

    assert failed.status is RunStatus.FAILED
    landed = {external_id for _, external_id in running.erp.records}
    with store.engine.connect() as connection:
        known = set(erp_xrefs(connection))
    # Pages waiting for held writes were committed but for those and their cursors.
    assert known == landed, "every record that landed has its xref: nothing to send again"

    rerun = run_flow(running, store, mapping_set, QUOTE_TO_CASH, page_size=200)

    assert rerun.status is RunStatus.SUCCEEDED, rerun.message
    with store.engine.connect() as connection:
        assert set(erp_xrefs(connection)) == {ext for _, ext in running.erp.records}
    assert len(running.erp.records) > len(landed)
    # The held records were read again (their pages' cursors had not moved) and sent once.
    sent = Counter(external_id for call in log.calls for external_id, _ in call.records)
    assert set(sent.values()) == {1}
    assert set(sent) == {ext for _, ext in running.erp.records}
