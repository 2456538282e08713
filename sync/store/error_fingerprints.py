"""The fingerprint of what failed: the same unchanged record failing the same way hashes alike."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sync.store.schema import json_default


def payload_fingerprint(stage: str, payload: dict[str, Any] | None) -> str:
    """A SHA-256 over the stage and the payload with sorted keys.

    Sorted keys: a source may send the same record's fields in another order, and that is no
    change a person's decision should be reopened for.
    """
    text = json.dumps([stage, payload], sort_keys=True, default=json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
