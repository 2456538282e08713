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
