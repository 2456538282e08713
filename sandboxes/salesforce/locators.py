"""Query results kept for ``nextRecordsUrl``: a snapshot per query, stored compressed.

Like Salesforce, a query's result is fixed when it runs and later pages read from it. The
sandbox used to keep every shaped row of every query as dicts for its whole life, which made a
seeded org of a million records need several GB; here each batch is pickled and compressed as
soon as it is shaped (:mod:`sandboxes.packed`), and unpacked again only when a page
asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sandboxes.packed import pack, unpack
from sandboxes.salesforce.cpq_seed import salesforce_id


class PackedRows:
    """A query's rows, packed ``batch_size`` to a chunk, each chunk shaped when first read.

    ``batches`` may read live records: the owner calls :meth:`freeze` before any record
    changes, so every page still shows the records as they were when the query ran. A
    million-record query thus answers its first page at once instead of shaping every row
    first (which outlasted the client's timeout).
    """

    def __init__(self, batches: Iterable[list[Any]], batch_size: int, total: int) -> None:
        """``batches``: ``total`` rows as lists of ``batch_size``, the last one may be shorter."""
        self.batch_size = batch_size
        self._total = total
        self._chunks: list[bytes] = []
        self._pending: Iterator[list[Any]] | None = iter(batches)

    def __len__(self) -> int:
        return self._total

    @property
    def frozen(self) -> bool:
        """True once every chunk is packed (nothing refers to live records any more)."""
        return self._pending is None

    def freeze(self) -> None:
        """Shape and pack every chunk not read yet."""
        self._fill(len(self._chunks) + self._total)

    def slice(self, start: int, end: int) -> list[Any]:
        """Rows ``start`` to ``end`` (any offsets, not only batch boundaries)."""
        size, rows = self.batch_size, []
        self._fill(-(-end // size))
        for index in range(start // size, min(len(self._chunks), -(-end // size))):
            first = index * size
            rows += unpack(self._chunks[index])[max(start - first, 0) : end - first]
        return rows

    def _fill(self, chunks: int) -> None:
        """Pack chunks until there are ``chunks`` of them or the rows run out."""
        while self._pending is not None and len(self._chunks) < chunks:
            batch = next(self._pending, None)
            if batch is None:
                self._pending = None
            else:
                self._chunks.append(pack(batch))


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
