"""Settings of change events: where each flow's events go (sinks) and which ones (filters).

A sink is one of three types, told apart by ``type`` (``nats`` when left out): a NATS
JetStream server, a RabbitMQ topic exchange or an HTTP endpoint taking Standard Webhooks.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

ChangeName = Literal["created", "updated", "deleted", "rejected", "resolved"]

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
# Standard Webhooks asks for 24 to 64 random bytes: shorter keys are guessable.
_KEY_BYTES = (24, 64)


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; ValueError (never quoting it) if malformed."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {WEBHOOK_SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"a webhook secret is {WEBHOOK_SECRET_PREFIX} then base64") from None
    if not _KEY_BYTES[0] <= len(key) <= _KEY_BYTES[1]:
        raise ValueError("a webhook secret holds {} to {} bytes".format(*_KEY_BYTES))
    return key


class _SinkBase(BaseModel):
    """What every sink has: a name for its state, filters and a deadline."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)
    flows: list[str] = Field(default_factory=list, description="Only these flows (empty: all).")
    entities: list[str] = Field(default_factory=list, description="Only these entities.")
    types: list[ChangeName] = Field(default_factory=list, description="Only these changes.")
    timeout_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Connect and acknowledgement deadline."
    )


class NatsSinkSettings(_SinkBase):
    """A NATS JetStream sink: one subject per entity and change type under ``subject_prefix``."""

    type: Literal["nats"] = "nats"
    url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL.")
    subject_prefix: str = Field(default="revbridge", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class RabbitMqSinkSettings(_SinkBase):
    """A RabbitMQ sink: a durable topic exchange, routing key ``<entity>.<change>``."""

    type: Literal["rabbitmq"]
    url: str = Field(
        default="amqp://127.0.0.1:5672/%2F",
        pattern=r"^amqps?://[^\s]+$",
        description="amqp://host:port/vhost; credentials in it move to username and password.",
    )
    username: str | None = Field(default=None, description="Login; RabbitMQ's guest if unset.")
    password: SecretStr | None = Field(default=None, description="Use ${VAR}; never printed.")
    exchange: str = Field(default="revbridge", pattern=r"^[A-Za-z0-9_.:-]+$", max_length=255)

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_url(cls, data: Any) -> Any:
        # The URL is shown in messages; the password must live only in a SecretStr.
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        parts = urlsplit(data["url"])
        if parts.username is None and parts.password is None:
            return data
        if parts.password is not None and data.get("password") is not None:
            raise ValueError("give the RabbitMQ password once: in url or in password")
        host = parts.netloc.rsplit("@", 1)[1]
        moved = {**data, "url": urlunsplit(parts._replace(netloc=host))}
        if parts.username:
            moved.setdefault("username", unquote(parts.username))
        if parts.password is not None:
            moved["password"] = unquote(parts.password)
        return moved


class WebhookSinkSettings(_SinkBase):
    """An HTTP endpoint taking Standard Webhooks: signed POSTs, retried, then dead-lettered."""

    type: Literal["webhook"]
    url: SecretStr = Field(description="http(s) URL the events are POSTed to (may hold a token).")
    secrets: list[SecretStr] = Field(
        min_length=1,
        max_length=2,
        description="whsec_<base64> signing secrets, from ${VAR}; two while rotating, and each "
        "delivery then carries both signatures.",
    )
    attempts: int = Field(
        default=5, ge=1, le=50, description="Deliveries of one event before it is dead-lettered."
    )
    backoff_seconds: float = Field(
        default=1.0, gt=0, le=300, description="The first wait between attempts; then doubling."
    )
    max_wait_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="The longest wait between attempts, a Retry-After the endpoint asks for too.",
    )
    drain_seconds: float = Field(
        default=120.0,
        gt=0,
        le=86_400,
        description="A drain starts no new event after this long; the rest wait for the next "
        "one (a run under `serve` waits for its drain, so failing endpoints must not hold it).",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:
        parts = urlsplit(url.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the webhook url must be http(s)://host/...")
        return url

    @field_validator("secrets")
    @classmethod
    def _well_formed(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for secret in secrets:
            webhook_secret_key(secret.get_secret_value())  # its message never holds the secret
        return secrets


def _sink_type(value: Any) -> str:
    found = value.get("type", "nats") if isinstance(value, dict) else getattr(value, "type", "")
    return str(found)


SinkSettings = Annotated[
    Annotated[NatsSinkSettings, Tag("nats")]
    | Annotated[RabbitMqSinkSettings, Tag("rabbitmq")]
    | Annotated[WebhookSinkSettings, Tag("webhook")],
    Discriminator(_sink_type),
]


class EventsSettings(BaseModel):
    """Change events: the sinks the publisher drains the outbox to."""

    model_config = ConfigDict(extra="forbid")

    sinks: list[SinkSettings] = Field(default_factory=list)
    batch_size: int = Field(default=500, ge=1, le=10_000, description="Events per outbox read.")
    retention_days: float = Field(
        default=7, gt=0, le=3650,
        description="Days a published event is kept for `events replay` before it is pruned.",
    )  # fmt: skip

    @field_validator("sinks")
    @classmethod
    def _unique_names(cls, sinks: list[SinkSettings]) -> list[SinkSettings]:
        # A sink's deliveries and dead letters are kept under its name.
        names = [sink.name for sink in sinks]
        if len(set(names)) != len(names):
            raise ValueError("each sink needs a name of its own")
        return sinks
