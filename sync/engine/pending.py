"""A write the engine has decided to send: the payload, its hash and what was written before.

Its own module because both delivery and the conflict guard (which delivery calls) use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.engine.capture import CapturedRecord
from sync.store.records import XrefEntry


@dataclass(frozen=True)
class PendingWrite:
    """A payload that differs from what revbridge last wrote to the target (or was never sent)."""

    captured: CapturedRecord
    payload: dict[str, Any]
    payload_hash: str
    prior: XrefEntry | None
    # The source's own payload (JSON form) when a conflict decision kept target values.
    source_payload: dict[str, Any] | None = None
    # One note per payload field whose text `illegal_characters: strip` cleaned.
    stripped: tuple[str, ...] = field(default=(), compare=False)
