"""Settings of change events: where each flow's events go (sinks) and which ones (filters)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ChangeName = Literal["created", "updated", "deleted", "rejected", "resolved"]


class NatsSinkSettings(BaseModel):
    """A NATS JetStream sink: one subject per entity and change type under ``subject_prefix``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["nats"] = "nats"
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)
    url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL.")
    subject_prefix: str = Field(default="revbridge", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    flows: list[str] = Field(default_factory=list, description="Only these flows (empty: all).")
    entities: list[str] = Field(default_factory=list, description="Only these entities.")
    types: list[ChangeName] = Field(default_factory=list, description="Only these changes.")
    timeout_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Connect and publish-acknowledgement deadline."
    )


class EventsSettings(BaseModel):
    """Change events: the sinks the publisher drains the outbox to."""

    model_config = ConfigDict(extra="forbid")

    sinks: list[NatsSinkSettings] = Field(default_factory=list)
    batch_size: int = Field(default=500, ge=1, le=10_000, description="Events per outbox read.")
    retention_days: float = Field(
        default=7, gt=0, le=3650,
        description="Days a published event is kept for `events replay` before it is pruned.",
    )  # fmt: skip
