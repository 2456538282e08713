"""Plain data kept compressed in a sandbox's memory, for what it holds but rarely reads.

A sandbox serving a million records keeps what was written to it, query snapshots and
replayable answers; as dicts those cost several times the data itself (about 8 KB per synced
record across billing and the ERP). Pickled and zlib-compressed (the data is the
sandbox's own, never bytes from a client) they cost a tenth.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Hashable, Iterator, MutableMapping
from typing import Any, TypeVar

# zlib's fastest level: the data repeats keys and values, so even it packs about ten to one.
_LEVEL = 1
K = TypeVar("K", bound=Hashable)


def pack(value: Any) -> bytes:
    """``value`` (plain data: dicts, lists, strings, numbers) as compressed bytes."""
    return zlib.compress(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), _LEVEL)


def unpack(packed: bytes) -> Any:
    """A fresh copy of the value :func:`pack` made ``packed`` from."""
    return pickle.loads(zlib.decompress(packed))  # noqa: S301  - only bytes pack() made


class PackedRecords(MutableMapping[K, dict[str, Any]]):
    """A dict of records kept packed: reading one unpacks a fresh copy.

    For stores that replace a record on every write and never edit one in place; a caller
    editing the copy it read changes nothing stored, as with a real system's API.
    """

    def __init__(self) -> None:
        self._packed: dict[K, bytes] = {}

    def __getitem__(self, key: K) -> dict[str, Any]:
        record: dict[str, Any] = pickle.loads(self._packed[key])  # noqa: S301  - our own bytes
        return record

    def __setitem__(self, key: K, record: dict[str, Any]) -> None:
        # Pickled only: one record is too small for zlib to pay for its time.
        self._packed[key] = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)

    def __delitem__(self, key: K) -> None:
        del self._packed[key]

    def __contains__(self, key: object) -> bool:
        return key in self._packed

    def __iter__(self) -> Iterator[K]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def __repr__(self) -> str:
        return f"PackedRecords({dict(self.items())!r})"
