"""Typed settings for each connection and the store; secrets are ``SecretStr``, never printed."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SalesforceSettings(_Section):
    """Salesforce org connection (OAuth 2.0 username-password flow, or an existing session)."""

    login_url: str = "https://login.salesforce.com"
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    instance_url: str | None = None
    session_id: SecretStr | None = None
    api_version: str = "60.0"
    ca_bundle: Path | None = Field(
        default=None, description="PEM file of extra CAs to trust (the sandbox's test CA)."
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=2000, ge=200, le=2000)


class BillingSettings(_Section):
    """Billing REST API connection."""

    base_url: str
    api_key: SecretStr
    ca_bundle: Path | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=100, ge=1, le=1000)


class ErpSettings(_Section):
    """ERP SOAP connection (NetSuite SuiteTalk token-based authentication)."""

    wsdl_url: str
    endpoint_url: str | None = Field(
        default=None, description="Overrides the service address in the WSDL."
    )
    account: str
    consumer_key: str
    consumer_secret: SecretStr
    token_id: str
    token_secret: SecretStr
    timeout_seconds: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=100, ge=1, le=100)


class RetrySettings(_Section):
    """How hard connectors retry transient failures before the record goes to the error queue."""

    attempts: int = Field(default=4, ge=1, le=20)
    max_wait_seconds: float = Field(default=30.0, gt=0)


class FlowSettings(_Section):
    """One flow: records captured in ``source`` and kept in step in each of ``targets``."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    source: str = "salesforce"
    targets: list[str] = Field(default_factory=lambda: ["billing", "erp"], min_length=1)
    entities: list[str] | None = Field(
        default=None, description="Canonical entities to carry; all the source owns if unset."
    )
    schedule: str | None = Field(
        default=None, description="Cron expression (5 fields, UTC) for `revbridge serve`."
    )
    misfire_grace_seconds: int = Field(default=300, ge=1)


class AlertSettings(_Section):
    """Where to post when a run fails or the error queue grows (Slack-compatible webhook)."""

    webhook_url: SecretStr | None = None
    error_queue_threshold: int = Field(default=100, ge=1)
    timeout_seconds: float = Field(default=10.0, gt=0)


class ServeSettings(_Section):
    """`revbridge serve`: flow leases shared by replicas, and the metrics/health endpoint."""

    lease_seconds: float = Field(
        default=60.0, gt=0, description="A crashed replica's flows resume after this long."
    )
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    metrics_host: str = Field(
        default="127.0.0.1", description="0.0.0.0 in a container, for Prometheus and probes."
    )
    metrics_port: int | None = Field(default=None, ge=0, le=65535)


class Settings(BaseSettings):
    """Everything a run needs. Environment variables ``REVBRIDGE_*`` override the file."""

    model_config = SettingsConfigDict(
        env_prefix="REVBRIDGE_", env_nested_delimiter="__", extra="forbid"
    )

    database_url: str = "sqlite:///revbridge.db"
    mappings_dir: Path | None = Field(
        default=None, description="Folder of mapping YAML files; the shipped defaults if unset."
    )
    salesforce: SalesforceSettings
    billing: BillingSettings
    erp: ErpSettings
    retry: RetrySettings = RetrySettings()
    flows: list[FlowSettings] = Field(
        default_factory=lambda: [FlowSettings(name="quote-to-cash", schedule="*/15 * * * *")],
        description="Flows `run` and `serve` know; by default Salesforce to billing and ERP.",
    )
    alerts: AlertSettings = AlertSettings()
