"""Query results kept for ``nextRecordsUrl``: a snapshot per query, stored compressed.

Like Salesforce, a query's result is fixed when it runs and later pages read from it. The
sandbox used to keep every shaped row of every query as dicts for its whole life, which made a
seeded org of a million records need several GB; here each batch is pickled and compressed as
soon as it is shaped (:mod:`connectors.sandbox.packed`), and unpacked again only when a page
asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from connectors.sandbox.cpq_seed import salesforce_id
from connectors.sandbox.packed import pack, unpack


class PackedRows:
    """A query's rows, fixed when it ran, packed ``batch_size`` to a chunk."""

    def __init__(self, batches: Iterable[list[Any]], batch_size: int) -> None:
        """``batches``: lists of ``batch_size`` rows, the last one may be shorter."""
        self.batch_size = batch_size
        self._total = 0
        self._chunks: list[bytes] = []
        for rows in batches:
            self._total += len(rows)
            self._chunks.append(pack(rows))

    def __len__(self) -> int:
        return self._total

    def slice(self, start: int, end: int) -> list[Any]:
        """Rows ``start`` to ``end`` (any offsets, not only batch boundaries)."""
        size, rows = self.batch_size, []
        for index in range(start // size, min(len(self._chunks), -(-end // size))):
            first = index * size
            rows += unpack(self._chunks[index])[max(start - first, 0) : end - first]
        return rows


class QueryLocators:
    """Snapshots of query results by locator id (``01g...``); callers hold the org's lock."""

    def __init__(self) -> None:
        self._snapshots: dict[str, PackedRows] = {}
        self._opened = 0  # a counter, not len(): child results open while a parent's pack

    def open(self, rows: PackedRows) -> str:
        """Keep ``rows`` under a new locator."""
        self._opened += 1
        locator = salesforce_id("01g", self._opened)
        self._snapshots[locator] = rows
        return locator

    def __contains__(self, locator: object) -> bool:
        return locator in self._snapshots

    def batch(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        """Rows ``offset`` to ``offset + batch_size`` of a snapshot, in the query reply's shape."""
        rows = self._snapshots[locator]
        end = offset + rows.batch_size
        result: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
        if end < len(rows):
            result["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        result["records"] = rows.slice(offset, end)
        return result


def in_batches(rows: list[Any], size: int) -> Iterator[list[Any]]:
    """``rows`` cut into lists of ``size``."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
