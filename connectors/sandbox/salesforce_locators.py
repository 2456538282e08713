"""Query results kept for ``nextRecordsUrl``: a snapshot per query, stored compressed.

Like Salesforce, a query's result is fixed when it runs and later pages read from it. The
sandbox used to keep every shaped row of every query as dicts for its whole life, which made a
seeded org of a million records need several GB; here each batch is pickled and compressed as
soon as it is shaped, and unpacked again only when a page asks for it.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from connectors.sandbox.cpq_seed import salesforce_id

# zlib's fastest level: shaped rows repeat their keys and attributes, so even it packs ~10x.
_LEVEL = 1


@dataclass
class _Snapshot:
    batch_size: int
    total: int = 0
    chunks: list[bytes] = field(default_factory=list)  # batch_size rows each, the last fewer


def _pack(rows: list[Any]) -> bytes:
    return zlib.compress(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL), _LEVEL)


def _unpack(chunk: bytes) -> list[Any]:
    rows: list[Any] = pickle.loads(zlib.decompress(chunk))  # noqa: S301  - bytes _pack made
    return rows


class QueryLocators:
    """Snapshots of query results by locator id (``01g...``); callers hold the org's lock."""

    def __init__(self) -> None:
        self._snapshots: dict[str, _Snapshot] = {}
        self._opened = 0  # a counter, not len(): child results open while a parent's pack

    def open(self, batches: Iterable[list[Any]], batch_size: int) -> str:
        """Keep ``batches`` (shaped rows, ``batch_size`` each but the last) under a new locator."""
        self._opened += 1
        locator = salesforce_id("01g", self._opened)
        snapshot = _Snapshot(batch_size)
        for rows in batches:
            snapshot.total += len(rows)
            snapshot.chunks.append(_pack(rows))
        self._snapshots[locator] = snapshot
        return locator

    def __contains__(self, locator: object) -> bool:
        return locator in self._snapshots

    def batch(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        """Rows ``offset`` to ``offset + batch_size`` of a snapshot, in the query reply's shape."""
        snapshot = self._snapshots[locator]
        end = offset + snapshot.batch_size
        result: dict[str, Any] = {"totalSize": snapshot.total, "done": end >= snapshot.total}
        if end < snapshot.total:
            result["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        result["records"] = list(self._rows(snapshot, offset, end))
        return result

    @staticmethod
    def _rows(snapshot: _Snapshot, start: int, end: int) -> Iterator[Any]:
        """Rows ``start`` to ``end`` (any offset a client sends, not only batch boundaries)."""
        size = snapshot.batch_size
        for index in range(start // size, min(len(snapshot.chunks), -(-end // size))):
            first = index * size
            yield from _unpack(snapshot.chunks[index])[max(start - first, 0) : end - first]


def in_batches(rows: list[Any], size: int) -> Iterator[list[Any]]:
    """``rows`` cut into lists of ``size``."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
