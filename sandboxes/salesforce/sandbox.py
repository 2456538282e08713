"""A loopback Salesforce org good enough for the real simple-salesforce client.

OAuth 2.0 login (password, JWT bearer, client credentials), SOQL query/queryAll with
``nextRecordsUrl`` paging, describe, record PATCH/DELETE, sObject Collections upsert (also up
to 5 in one Composite request), Bulk API 2.0 query and ingest jobs, ``/limits`` and
``Sforce-Limit-Info`` against a configurable daily allocation, expired sessions and injected
faults, over TLS from a throwaway CA::

    with SalesforceSandbox(orders=300) as sandbox:
        values = sandbox.connection_values()  # login URL, credentials, sandbox.ca_bundle
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from sandboxes.salesforce.bulk import SandboxBulk
from sandboxes.salesforce.faults import Fault, FaultPlan
from sandboxes.salesforce.login import SandboxCredentials
from sandboxes.salesforce.org import SandboxOrg
from sandboxes.salesforce.routes import SalesforceHandler
from sandboxes.salesforce.writes import find_object
from sandboxes.server import LoopbackServer
from sandboxes.tls import SandboxTls

__all__ = ["DAILY_API_LIMIT", "SalesforceSandbox", "SandboxCredentials"]
DAILY_API_LIMIT = 15000


class SalesforceSandbox:
    """A seeded Salesforce org on a loopback TLS port: ``with SalesforceSandbox() as sf: ...``."""

    def __init__(
        self,
        *,
        accounts: int = 50,
        orders: int = 500,
        products: int = 20,
        invalid_records: bool = True,
        seed: int = 7,
        page_size: int = 2000,
        daily_api_limit: int = DAILY_API_LIMIT,
        cpq: bool = True,
        bulk_polls_before_complete: int = 1,
        lifecycles: bool = False,
    ) -> None:
        self._org = SandboxOrg(
            page_size=page_size, daily_api_limit=daily_api_limit, cpq=cpq, accounts=accounts,
            orders=orders, products=products, invalid_records=invalid_records, seed=seed,
            lifecycles=lifecycles,
        )  # fmt: skip
        self._bulk = SandboxBulk(self._org, bulk_polls_before_complete)
        self._tls: SandboxTls | None = None
        self._server: LoopbackServer | None = None

    def start(self) -> SalesforceSandbox:
        """Create the test CA and serve; returns self."""
        self._tls = SandboxTls()
        self._server = LoopbackServer(
            SalesforceHandler, (self._org, self._bulk), ssl_context=self._tls.server_context()
        )
        self._org.instance_url = self._server.url
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the CA bundle."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._tls is not None:
            self._tls.cleanup()

    def __enter__(self) -> SalesforceSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Login and instance URL, ``https://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def server(self) -> LoopbackServer:
        """The HTTP server, for request gates in fault tests."""
        if self._server is None:
            raise RuntimeError("the Salesforce sandbox is not started")
        return self._server

    @property
    def ca_bundle(self) -> Path:
        """PEM file of the test CA that issued the server certificate."""
        if self._tls is None:
            raise RuntimeError("the Salesforce sandbox is not started")
        return self._tls.ca_bundle

    @property
    def credentials(self) -> SandboxCredentials:
        """The org's login."""
        return self._org.login.credentials

    @property
    def api_calls(self) -> int:
        """Data API calls served so far (faulted ones included)."""
        return self._org.api_calls

    @property
    def write_calls(self) -> int:
        """The data API calls among ``api_calls`` that create, change or delete records."""
        return self._org.write_calls

    @property
    def record_count(self) -> int:
        """Records the org holds, of every object, deleted ones included."""
        with self._org.lock:
            return sum(len(records) for records in self._org.records.values())

    @property
    def logins(self) -> int:
        """Successful logins (token responses) so far."""
        return self._org.login.logins

    @property
    def faults(self) -> FaultPlan:
        """The fault plan: script faults for the next calls or set random ones by rate."""
        return self._org.faults

    @property
    def bulk(self) -> SandboxBulk:
        """The Bulk API 2.0 jobs (set ``ingest_abort_after`` to leave records unprocessed)."""
        return self._bulk

    @property
    def invalid_record_ids(self) -> dict[str, str]:
        """Ids of records designed to fail canonical validation, with the reason."""
        return dict(self._org.invalid_record_ids)

    @property
    def lifecycle_subscription_ids(self) -> dict[str, str]:
        """With ``lifecycles``: the subscription record of each seeded CPQ event, by event
        (new, upsell, downgrade, renewal, cancelled, cancellation)."""
        return dict(self._org.lifecycle_ids)

    def connection_values(self, **overrides: Any) -> dict[str, Any]:
        """What a client needs to log in to this org (password flow) and trust its CA.

        Plain values in the names revbridge's ``salesforce`` settings use; the sandbox knows
        nothing of the product, so callers build their settings from these.
        """
        creds = self.credentials
        values: dict[str, Any] = {
            "login_url": self.url, "username": creds.username, "password": creds.password,
            "security_token": creds.security_token, "client_id": creds.client_id,
            "client_secret": creds.client_secret, "ca_bundle": self.ca_bundle,
        }  # fmt: skip
        values.update(overrides)
        return values

    def register_jwt_certificate(self, public_key_pem: str) -> None:
        """Upload a connected-app certificate: JWTs signed by its private key may log in."""
        self._org.login.register_jwt_certificate(public_key_pem)

    def set_api_usage(self, calls: int) -> None:
        """Pretend ``calls`` data API calls were already made in the last 24 hours."""
        with self._org.lock:
            self._org.api_calls = calls

    def records(self, object_name: str) -> list[dict[str, Any]]:
        """Copies of every record of one object, deleted ones included."""
        with self._org.lock:
            return [dict(r) for r in self._org.records_of(find_object(object_name).name)]

    def update_record(self, object_name: str, record_id: str, changes: dict[str, Any]) -> None:
        """Edit a record as a user would; bumps SystemModstamp (and its Order's, for a line)."""
        self._org.update_record(object_name, record_id, changes)

    def delete_record(self, object_name: str, record_id: str) -> None:
        """Soft-delete a record into the recycle bin (IsDeleted=true), as REST DELETE does."""
        self._org.delete_record(object_name, record_id)

    def undelete_record(self, object_name: str, record_id: str) -> None:
        """Restore a record from the recycle bin."""
        self._org.undelete_record(object_name, record_id)

    def empty_recycle_bin(self) -> None:
        """Purge the recycle bin: deleted records vanish even from queryAll."""
        self._org.empty_recycle_bin()

    def expire_sessions(self) -> None:
        """Invalidate every access token: the next data call answers 401 INVALID_SESSION_ID."""
        self._org.login.expire_sessions()

    def inject_fault(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` data API calls with this status, body and headers."""
        self._org.faults.script(Fault(status, body, headers or {}, times))

    def fail_subrequests(
        self, status: int, body: Any, times: int = 1, path_contains: str = ""
    ) -> None:
        """Answer the next ``times`` matching Composite subrequests (not calls) this way."""
        self._org.faults.script(
            Fault(status, body, times=times, path_contains=path_contains, subrequest=True)
        )

    def drop_connections(self, times: int = 1, path_contains: str = "") -> None:
        """Hang up on the next ``times`` matching data API calls without answering."""
        self._org.faults.script(Fault(drop=True, times=times, path_contains=path_contains))

    def add_latency(self, seconds: float, times: int = 1) -> None:
        """Delay the next ``times`` data API calls by ``seconds``, then answer normally."""
        self._org.faults.script(Fault(delay_seconds=seconds, times=times))
