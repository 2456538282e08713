"""Typed settings for each connection and the store; secrets are ``SecretStr``, never printed."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.assurance import AssuranceSettings
from config.console_settings import ConsoleSettings
from config.delete_policies import DeletePolicyName
from config.events import EventsSettings

# The billing wire formats; each may ship its own mappings and configuration checks.
BillingProfile = Literal["json", "stripe"]
# How the Stripe profile finds an object it created before when revbridge holds no id for it.
BillingLookup = Literal["auto", "search", "list", "none"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SalesforceSettings(_Section):
    """Salesforce org connection: password, JWT bearer, client credentials or a session id."""

    login_url: str = Field(
        default="https://login.salesforce.com",
        description="https://login.salesforce.com, https://test.salesforce.com or My Domain.",
    )
    auth: Literal["password", "jwt", "client_credentials", "session"] | None = Field(
        default=None, description="Auth mode; unset picks it from the credentials given."
    )
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    client_id: str | None = Field(default=None, description="Connected app consumer key.")
    client_secret: SecretStr | None = None
    private_key: SecretStr | None = Field(
        default=None, description="PEM RSA key signing the JWT bearer assertion."
    )
    private_key_file: Path | None = Field(
        default=None, description="File holding the JWT private key (instead of private_key)."
    )
    instance_url: str | None = None
    session_id: SecretStr | None = None
    api_version: str = "60.0"
    ca_bundle: Path | None = Field(
        default=None, description="PEM file of extra CAs to trust (the sandbox's test CA)."
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=2000, ge=200, le=2000)
    api_floor_percent: float = Field(
        default=10.0,
        ge=0,
        lt=100,
        description="Stop a run before the org's remaining daily API calls drop below this share.",
    )
    bulk_read_threshold: int = Field(
        default=50_000,
        ge=0,
        description="Reads matching at least this many records use Bulk API 2.0; 0 never.",
    )
    bulk_write_threshold: int = Field(
        default=10_000,
        ge=0,
        description="Upserts of at least this many records use a Bulk API 2.0 ingest job; 0 never.",
    )
    composite_subrequests: int = Field(
        default=5,
        ge=1,
        le=5,
        description=(
            "sObject Collections upserts (200 records each) sent together in one Composite "
            "request, which counts as one API call. Salesforce allows at most 5 Collections "
            "subrequests per Composite request; 1 sends each as a plain Collections call, as "
            "does an api_version below 48.0."
        ),
    )
    bulk_result_page: int = Field(
        default=10_000, ge=100, description="Records per Bulk query results download."
    )
    bulk_poll_seconds: float = Field(default=2.0, gt=0)
    bulk_timeout_seconds: float = Field(default=3600.0, gt=0)


class BillingSettings(_Section):
    """Billing REST API connection: base URL, wire profile, auth and paging."""

    base_url: str
    profile: BillingProfile = Field(
        default="json",
        description="json: the generic JSON API (see profile_file); stripe: Stripe's wire "
        "format, and Stripe's shipped mappings unless mappings_dir names a folder.",
    )
    profile_file: Path | None = Field(
        default=None, description="YAML profile for the json profile; the built-in one if unset."
    )
    auth: Literal["bearer", "basic", "oauth_client_credentials"] = "bearer"
    api_key: SecretStr | None = Field(
        default=None, description="Sent as a bearer token, or as the basic-auth user name."
    )
    token_url: str | None = Field(
        default=None, description="OAuth 2.0 token endpoint (client credentials grant)."
    )
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None
    token_refresh_margin_seconds: float = Field(
        default=60.0, ge=0, description="Fetch a new token this long before the old one expires."
    )
    idempotency_header: str = "Idempotency-Key"
    ca_bundle: Path | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=100, ge=1, le=1000)
    max_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Write calls in flight at once (records, or batches where the API has a "
        "batch endpoint). Stripe allows about 100 operations/s live and 25/s per endpoint; "
        "429 answers wait as Retry-After asks.",
    )
    lookup: BillingLookup = Field(
        default="auto",
        description="Stripe profile: how an object revbridge has no stored id for is found by "
        "its metadata[revbridge_id] before anything is created. search: Stripe's Search API "
        "(eventually consistent); list: one pass over the collection per run; none: never look "
        "(stored ids and idempotency keys only); auto: search, or list where the server "
        "answers /v1/customers/search with 404.",
    )
    days_until_due: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="Stripe profile: days a customer has to pay the invoices of a subscription "
        "sent as invoices (collection_method send_invoice), unless the mapping sets "
        "days_until_due.",
    )
    webhook_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Stripe profile: the signing secrets (whsec_...) of the webhook endpoint "
        "Stripe posts events to, at `revbridge serve`'s POST /webhooks/stripe (on "
        "serve.metrics_port); two while a secret is rolled. An event signed with any of them "
        "starts the flows that read billing at once. Empty: no webhook endpoint.",
    )
    webhook_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="Stripe profile: how far a webhook's signed timestamp may be from this "
        "host's clock; older (or replayed) deliveries are refused.",
    )

    @model_validator(mode="after")
    def _credentials_for_auth(self) -> BillingSettings:
        if self.auth == "oauth_client_credentials":
            missing = [
                name
                for name in ("token_url", "client_id", "client_secret")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"auth oauth_client_credentials needs {', '.join(missing)}")
        elif self.api_key is None:
            raise ValueError(f"auth {self.auth} needs api_key")
        return self

    @model_validator(mode="after")
    def _webhooks_for_stripe(self) -> BillingSettings:
        # Only Stripe's signed events are understood; secrets set for another API would
        # otherwise be ignored without a word.
        if self.webhook_secrets and self.profile != "stripe":
            raise ValueError("webhook_secrets is for profile stripe (Stripe's signed webhooks)")
        return self


ERP_OPERATIONS = {
    "upsert": "upsertList",
    "delete": "deleteList",
    "get": "getList",
    "search": "search",
    "search_more": "searchMoreWithId",
    "deleted": "getDeleted",
    "server_time": "getServerTime",
    # asyncUpsertList and its job (connectors/erp/async_lists.py; not used by the engine).
    "async_upsert": "asyncUpsertList",
    "async_status": "checkAsyncStatus",
    "async_result": "getAsyncResult",
}


class ErpSettings(_Section):
    """ERP SOAP connection: NetSuite SuiteTalk with token-based auth or a user passport."""

    wsdl_url: str
    endpoint_url: str | None = Field(
        default=None, description="Overrides the service address in the WSDL."
    )
    account: str
    auth: Literal["token", "password"] = Field(
        default="token", description="token: signed tokenPassport; password: a user passport."
    )
    consumer_key: str = ""
    consumer_secret: SecretStr = SecretStr("")
    token_id: str = ""
    token_secret: SecretStr = SecretStr("")
    email: str = ""
    password: SecretStr = SecretStr("")
    role: str | None = Field(default=None, description="Role internal id for the passport.")
    operations: dict[str, str] = Field(
        default_factory=lambda: dict(ERP_OPERATIONS),
        description="Logical operation -> SOAP operation name in the WSDL.",
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="Deadline for one response.")
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    max_response_bytes: int = Field(default=50_000_000, ge=1024)
    batch_size: int = Field(default=100, ge=1, le=100)
    get_batch_size: int = Field(default=1000, ge=1, le=1000)
    search_page_size: int = Field(default=1000, ge=5, le=1000)
    concurrency: int = Field(
        default=4, ge=1, le=50, description="Calls in flight at once per account in a process."
    )
    custom_record_types: dict[str, str] = Field(
        default_factory=dict,
        description="Custom record type script id (customrecord_rb_contract) -> its internal id.",
    )

    @model_validator(mode="after")
    def _credentials_and_operations(self) -> ErpSettings:
        unknown = sorted(set(self.operations) - set(ERP_OPERATIONS))
        if unknown:
            raise ValueError(f"unknown ERP operations {unknown}; expected {sorted(ERP_OPERATIONS)}")
        self.operations = {**ERP_OPERATIONS, **self.operations}
        if self.auth == "token":
            secrets = (self.consumer_secret, self.token_secret)
            if not (
                self.consumer_key
                and self.token_id
                and all(secret.get_secret_value() for secret in secrets)
            ):
                raise ValueError(
                    "auth token needs consumer_key, consumer_secret, token_id and token_secret"
                )
        elif not (self.email and self.password.get_secret_value()):
            raise ValueError("auth password needs email and password")
        return self


class RetrySettings(_Section):
    """How hard connectors retry transient failures before the record goes to the error queue."""

    attempts: int = Field(default=4, ge=1, le=20)
    max_wait_seconds: float = Field(default=30.0, gt=0)


ConflictPolicyName = Literal["source_wins", "target_wins", "newest_wins", "merge", "manual"]


class EntityConflictSettings(_Section):
    """The conflict policy of one canonical entity, and of single fields of its payloads."""

    policy: ConflictPolicyName | None = Field(
        default=None, description="Policy for this entity; conflicts.policy if unset."
    )
    fields: dict[str, ConflictPolicyName] = Field(
        default_factory=dict,
        description="Target payload field (dotted path, e.g. address.city) -> policy.",
    )


class ConflictSettings(_Section):
    """What to do when a target record changed since revbridge last wrote it."""

    detect: bool = Field(
        default=True, description="Fetch target records before updating them and compare."
    )
    policy: ConflictPolicyName = Field(
        default="source_wins",
        description="source_wins, target_wins, newest_wins, merge (three-way) or manual (hold).",
    )
    entities: dict[str, EntityConflictSettings] = Field(default_factory=dict)
    modified_fields: dict[str, str] = Field(
        default_factory=lambda: {
            "salesforce": "SystemModstamp",
            "billing": "updated",
            "erp": "lastModifiedDate",
        },
        description="Per target system, the field holding a record's last-modified time.",
    )


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
    reconcile_cron: str | None = Field(
        default=None,
        description="Cron expression (5 fields, UTC) for `revbridge serve` to reconcile this "
        "flow, under the flow's lease (a run and a reconcile of one flow never overlap).",
    )
    deletes: dict[str, DeletePolicyName] = Field(
        default_factory=dict,
        description="Per entity, what a source deletion does downstream: deactivate, ignore "
        "or propagate (delete it in each target); by default deactivate where the entity has "
        "an inactive state (status, active), else ignore.",
    )


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
        default="127.0.0.1",
        description="0.0.0.0 in a container, for Prometheus and probes. The console is served "
        "on this port too: off this host, put an https proxy before it (console.trusted_proxies).",
    )
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    http_max_connections: int = Field(
        default=2048,
        ge=16,
        le=65_536,
        description="Connections the HTTP port (and `revbridge console`) holds at once; "
        "past it, new requests get 503 at once.",
    )
    http_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A client that hasn't sent a whole request head within this long is "
        "disconnected (slow or half-open connections).",
    )

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> ServeSettings:
        # A heartbeat slower than the lease would let a healthy run's lease lapse.
        if self.heartbeat_seconds >= self.lease_seconds:
            raise ValueError("heartbeat_seconds must be shorter than lease_seconds")
        return self


class Settings(BaseSettings):
    """Everything a run needs. Environment variables ``REVBRIDGE_*`` override the file."""

    model_config = SettingsConfigDict(
        env_prefix="REVBRIDGE_", env_nested_delimiter="__", extra="forbid"
    )

    version: Literal[1] = Field(default=1, description="Configuration format version.")
    database_url: str = "sqlite:///revbridge.db"
    mappings_dir: Path | None = Field(
        default=None,
        description="Folder of mapping YAML files; if unset, the shipped ones for billing.profile.",
    )
    salesforce: SalesforceSettings
    billing: BillingSettings
    erp: ErpSettings
    retry: RetrySettings = RetrySettings()
    conflicts: ConflictSettings = ConflictSettings()
    flows: list[FlowSettings] = Field(
        default_factory=lambda: [FlowSettings(name="quote-to-cash", schedule="*/15 * * * *")],
        description="Flows `run` and `serve` know; by default Salesforce to billing and ERP.",
    )
    alerts: AlertSettings = AlertSettings()
    serve: ServeSettings = ServeSettings()
    console: ConsoleSettings = ConsoleSettings()
    events: EventsSettings = EventsSettings()
    assurance: AssuranceSettings = AssuranceSettings()
