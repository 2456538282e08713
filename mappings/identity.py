"""Deterministic canonical ids.

A record's canonical id is derived from where it was captured, so re-reading the same source
record after a crash yields the same id and never a second canonical record.
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1c2b0e-7d1a-4c55-9a53-2f6d1f0e9b41")


def canonical_id(entity: str, system: str, source_id: str) -> str:
    """Canonical id of the ``entity`` record whose system of record is ``system``."""
    return str(uuid.uuid5(_NAMESPACE, f"{entity}\x1f{system}\x1f{source_id}"))
