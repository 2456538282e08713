"""Change detection: stable content hashes of canonical records and target payloads."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Metadata that changes without the record's content changing (a touch in the source).
_VOLATILE_KEYS = frozenset({"source_modified_at"})


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_without_volatile(item) for item in value]
    return value


def content_hash(canonical_json: dict[str, Any]) -> str:
    """SHA-256 of a canonical record's content (JSON mode), ignoring source timestamps."""
    return payload_hash(_without_volatile(canonical_json))


def payload_hash(payload: Any) -> str:
    """SHA-256 of a JSON-able payload with sorted keys, so key order never matters."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
