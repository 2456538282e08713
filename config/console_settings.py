"""The ``console:`` section of the settings: sessions, login throttling, trusted proxies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, model_validator


class ConsoleSettings(BaseModel):
    """The support console: sessions, login throttling, and an optional authenticating proxy."""

    model_config = ConfigDict(extra="forbid")

    session_hours: float = Field(
        default=12.0, gt=0, le=720, description="A login lasts this long, then asks again."
    )
    login_failures_per_user: int = Field(
        default=5, ge=1, description="Failed logins for one user name within the window."
    )
    login_failures_per_address: int = Field(
        default=20, ge=1, description="Failed logins from one client address within the window."
    )
    login_window_seconds: int = Field(default=900, ge=1, le=86_400)
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Addresses (or networks) of reverse proxies whose X-Forwarded-Proto, "
        "X-Forwarded-For and proxy_user_header are believed; from anyone else they are ignored.",
    )
    proxy_user_header: str | None = Field(
        default=None,
        description="Header an authenticating proxy (oauth2-proxy, an SSO gateway) names the "
        "console user in, e.g. X-Forwarded-User; trusted only from trusted_proxies.",
    )

    @model_validator(mode="after")
    def _proxy_header_needs_proxies(self) -> ConsoleSettings:
        # A user header believed from any address would let anyone name themselves admin.
        if self.proxy_user_header and not self.trusted_proxies:
            raise ValueError("proxy_user_header needs trusted_proxies")
        return self
