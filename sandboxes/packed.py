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


# A record is compressed on its own against a preset dictionary: the first record stored, whose
# field names and shape its siblings repeat. A 1 KB window and the smallest memory level keep
# zlib's setup per record cheap (~15 us): a 430-byte pickled ERP order packs to about 80 bytes.
_RECORD_WINDOW = -10  # raw deflate, 2**10-byte window
_RECORD_MEMORY = 1


class PackedRecords(MutableMapping[K, dict[str, Any]]):
    """A dict of records kept packed: reading one unpacks a fresh copy.

    For stores that replace a record on every write and never edit one in place; a caller
    editing the copy it read changes nothing stored, as with a real system's API.
    """

    def __init__(self) -> None:
        self._packed: dict[K, bytes] = {}
        self._dictionary = b""  # set from the first record stored

    def __getitem__(self, key: K) -> dict[str, Any]:
        unpacker = zlib.decompressobj(_RECORD_WINDOW, zdict=self._dictionary)
        raw = unpacker.decompress(self._packed[key]) + unpacker.flush()
        record: dict[str, Any] = pickle.loads(raw)  # noqa: S301  - our own bytes
        return record

    def __setitem__(self, key: K, record: dict[str, Any]) -> None:
        raw = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        if not self._dictionary:
            self._dictionary = raw[-(2**-_RECORD_WINDOW) :]
        packer = zlib.compressobj(
            _LEVEL, zlib.DEFLATED, _RECORD_WINDOW, _RECORD_MEMORY, zdict=self._dictionary
        )
        self._packed[key] = packer.compress(raw) + packer.flush()

    def __delitem__(self, key: K) -> None:
        del self._packed[key]

    @property
    def packed_bytes(self) -> int:
        """What the records take packed (not counting the dict holding them)."""
        return sum(map(len, self._packed.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._packed

    def __iter__(self) -> Iterator[K]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def __repr__(self) -> str:
        return f"PackedRecords({dict(self.items())!r})"
