"""Deterministic canonical ids.

A record's canonical id is derived from where it was captured, so re-reading the same source
record after a crash yields the same id and never a second canonical record.
"""

from __future__ import annotations

import hashlib
import uuid

_NAMESPACE = uuid.UUID("6f1c2b0e-7d1a-4c55-9a53-2f6d1f0e9b41")
_NAMESPACE_BYTES = _NAMESPACE.bytes
_VARIANT = "89ab"  # RFC 4122 variant: the top two bits of byte 8 are 10


def canonical_id(entity: str, system: str, source_id: str) -> str:
    """Canonical id of the ``entity`` record whose system of record is ``system``.

    ``str(uuid.uuid5(namespace, name))`` spelled out: every record and line pays for one, and
    building the UUID object cost a sixth of a minimal capture loop.
    """
    name = f"{entity}\x1f{system}\x1f{source_id}".encode()
    digest = hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).hexdigest()
    return (
        f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-"
        f"{_VARIANT[int(digest[16], 16) & 3]}{digest[17:20]}-{digest[20:32]}"
    )
