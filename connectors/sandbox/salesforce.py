"""A loopback Salesforce org good enough for the real simple-salesforce client.

OAuth 2.0 username-password login, SOQL query/queryAll with ``nextRecordsUrl`` paging,
describe, record PATCH/DELETE, sObject Collections upsert, ``Sforce-Limit-Info``, expired
sessions and injected faults, over TLS from a throwaway CA::

    with SalesforceSandbox(orders=300) as sandbox:
        settings = sandbox.settings()     # SalesforceSettings trusting sandbox.ca_bundle
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from config.settings import SalesforceSettings
from connectors.sandbox.cpq_seed import (
    OBJECTS,
    IdFactory,
    LogicalClock,
    recompute_order_totals,
    salesforce_id,
    seed_org,
)
from connectors.sandbox.salesforce_writes import (
    SandboxError,
    canonical_names,
    check_changes,
    describe_object,
    find_object,
    not_found,
    upsert_collection,
)
from connectors.sandbox.server import LoopbackServer, SandboxRequestHandler
from connectors.sandbox.soql import SoqlError
from connectors.sandbox.soql_run import plan_query
from connectors.sandbox.tls import SandboxTls

DAILY_API_LIMIT = 15000
_DATA_PATH = re.compile(r"/services/data/v(\d+\.\d+)/(.+)")
_DEFAULT_VERSION = "60.0"


@dataclass(frozen=True)
class SandboxCredentials:
    """The sandbox org's login; the secrets stay out of ``repr``."""

    username: str
    password: str = field(repr=False)
    security_token: str = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)


@dataclass
class _Fault:
    status: int
    body: Any
    headers: dict[str, str]
    times: int


class SandboxOrg:
    """The org's state, shared by the request threads; every public method holds the lock."""

    def __init__(self, *, page_size: int, **seed_options: Any) -> None:
        self.lock = threading.RLock()
        self.clock, self.ids = LogicalClock(), IdFactory()
        data = seed_org(clock=self.clock, ids=self.ids, **seed_options)
        self.records, self.invalid_record_ids = data.records, data.invalid_record_ids
        self.page_size = page_size
        self.instance_url = ""
        self.api_calls = 0
        self.credentials = SandboxCredentials(
            username="revbridge@sandbox.example",
            password="sandbox-password",  # noqa: S106  - a throwaway loopback org
            security_token="SANDBOXTOKEN0000",  # noqa: S106
            client_id="3MVG9revbridgeSandboxClientId",
            client_secret="sandbox-client-secret",  # noqa: S106
        )
        self._sessions: set[str] = set()
        self._faults: list[_Fault] = []
        self._locators: dict[str, tuple[list[Any], int]] = {}

    # RecordStore, for the SOQL engine (callers hold the lock)
    def record(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """One record by id, deleted or not."""
        return self.records.get(object_name, {}).get(record_id)

    def records_of(self, object_name: str) -> list[dict[str, Any]]:
        """Every record of one object."""
        return list(self.records.get(object_name, {}).values())

    def login(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The OAuth 2.0 username-password flow: a token response or an OAuth error."""
        creds = self.credentials
        if form.get("grant_type") != "password":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "grant type not supported",
            }
        if form.get("client_id") != creds.client_id:
            return 400, {
                "error": "invalid_client_id",
                "error_description": "client identifier invalid",
            }
        if not hmac.compare_digest(form.get("client_secret", ""), creds.client_secret):
            return 400, {
                "error": "invalid_client",
                "error_description": "invalid client credentials",
            }
        password = creds.password + creds.security_token
        if form.get("username") != creds.username or not hmac.compare_digest(
            form.get("password", ""), password
        ):
            return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
        with self.lock:
            token = f"00D5g000004RbSB!{secrets.token_urlsafe(40)}"
            self._sessions.add(token)
        identity = f"{self.instance_url}/id/00D5g000004RbSBEAY/0055g00000RbUSRAA2"
        issued_at = str(self.clock.epoch_millis())
        digest = hmac.new(
            creds.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        )
        return 200, {
            "access_token": token, "instance_url": self.instance_url, "id": identity,
            "token_type": "Bearer", "issued_at": issued_at,
            "signature": base64.b64encode(digest.digest()).decode(),
        }  # fmt: skip

    def session_valid(self, authorization: str | None) -> bool:
        """True when the header carries a live access token."""
        scheme, _, token = (authorization or "").partition(" ")
        with self.lock:
            return scheme.lower() in ("bearer", "oauth") and token in self._sessions

    def expire_sessions(self) -> None:
        """Invalidate every access token, as a session timeout would."""
        with self.lock:
            self._sessions.clear()

    def inject_fault(self, status: int, body: Any, headers: dict[str, str], times: int) -> None:
        """Answer the next ``times`` data API calls with this response."""
        with self.lock:
            self._faults.append(_Fault(status, body, headers, times))

    def count_call(self) -> tuple[int, _Fault | None]:
        """Count one data API call; return the usage and the fault to answer with, if any."""
        with self.lock:
            self.api_calls += 1
            fault = self._faults[0] if self._faults else None
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.pop(0)
            return self.api_calls, fault

    def run_query(self, text: str, include_deleted: bool, batch_size: int, version: str) -> Any:
        """Run SOQL; return the first batch and a ``nextRecordsUrl`` when there is more."""
        with self.lock:
            try:
                plan = plan_query(text, self, version)
            except SoqlError as error:
                raise SandboxError(400, error.error_code, error.message) from error
            rows = plan.run(self.records_of(plan.object_name), include_deleted)
            # Like Salesforce, a query's result is a snapshot that later pages read from.
            locator = salesforce_id("01g", len(self._locators) + 1)
            self._locators[locator] = (rows, batch_size)
            return self._batch(locator, 0, version)

    def query_more(self, locator_and_offset: str, version: str) -> Any:
        """The next batch of an earlier query, from its ``01g...-offset`` locator."""
        locator, _, offset = locator_and_offset.partition("-")
        with self.lock:
            if locator not in self._locators or not offset.isdigit():
                raise SandboxError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._batch(locator, int(offset), version)

    def _batch(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        rows, batch_size = self._locators[locator]
        end = offset + batch_size
        result: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
        if end < len(rows):
            result["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        result["records"] = rows[offset:end]
        return result

    def get_record(self, object_name: str, record_id: str) -> dict[str, Any]:
        """A copy of one live record, or a 404."""
        obj = find_object(object_name)
        with self.lock:
            found = self.record(obj.name, record_id)
            if found is None or found["IsDeleted"]:
                raise not_found()
            return {"attributes": {"type": obj.name}, **found}

    def update_record(self, object_name: str, record_id: str, changes: dict[str, Any]) -> None:
        """Apply a user's edit; a 400 with the first field error when it is not allowed."""
        obj = find_object(object_name)
        with self.lock:
            found = self.record(obj.name, record_id)
            if found is None or found["IsDeleted"]:
                raise not_found()
            errors = check_changes(obj, changes, creating=False)
            if errors:
                raise SandboxError(400, errors[0]["statusCode"], errors[0]["message"])
            found.update(canonical_names(obj, changes))
            self._touch(obj.name, [found], self.clock.tick())

    def delete_record(self, object_name: str, record_id: str) -> None:
        """Soft-delete (IsDeleted=true); an Order takes its OrderItems with it."""
        obj = find_object(object_name)
        with self.lock:
            found = self.record(obj.name, record_id)
            if found is None or found["IsDeleted"]:
                raise not_found()
            stamp = self.clock.tick()
            found["IsDeleted"] = True
            if obj.name == "Order":
                items = [i for i in self.records_of("OrderItem") if i["OrderId"] == record_id]
                for item in items:
                    item["IsDeleted"] = True
                self._touch("OrderItem", items, stamp)
            self._touch(obj.name, [found], stamp)

    def _touch(self, object_name: str, changed: list[dict[str, Any]], stamp: str) -> None:
        """Stamp changed records and roll OrderItem totals up to their Order, as an org does."""
        for record in changed:
            record["LastModifiedDate"] = record["SystemModstamp"] = stamp
        if object_name not in ("Order", "OrderItem"):
            return
        order_ids = {r["OrderId"] if object_name == "OrderItem" else r["Id"] for r in changed}
        for order_id in order_ids:
            order = self.records["Order"].get(order_id)
            if order is not None:
                recompute_order_totals(self.records, order)
                order["LastModifiedDate"] = order["SystemModstamp"] = stamp

    def upsert_collection(
        self, object_name: str, external_id_field: str, body: Any
    ) -> list[dict[str, Any]]:
        """sObject Collections upsert: per-record results, in order; allOrNone honoured."""
        return upsert_collection(self, object_name, external_id_field, body)


class _SalesforceHandler(SandboxRequestHandler):
    """Routes Salesforce REST paths to the org; every response carries Sforce-Limit-Info."""

    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        """Handle PATCH."""
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch("DELETE")

    @property
    def org(self) -> SandboxOrg:
        """The org this server serves."""
        org: SandboxOrg = self.state
        return org

    def _reply(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        headers = {"Sforce-Limit-Info": f"api-usage={self.org.api_calls}/{DAILY_API_LIMIT}"}
        headers.update(extra or {})
        if payload is None:
            self.send_body(status, b"", "application/json;charset=UTF-8", headers)
        else:
            self.send_json(status, payload, headers)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        # Read the body up front, even for requests refused early, so keep-alive stays in sync.
        self._body = self.read_body()
        try:
            if method == "POST" and url.path == "/services/oauth2/token":
                form = {k: v[0] for k, v in parse_qs(self._body.decode()).items()}
                self._reply(*self.org.login(form))
            elif method == "GET" and url.path.rstrip("/") == "/services/data":
                self._reply(200, [{"label": "Spring '24", "url": "/services/data/v60.0",
                                   "version": "60.0"}])  # fmt: skip
            elif match := _DATA_PATH.fullmatch(url.path):
                self._data_call(method, match.group(1), match.group(2).strip("/").split("/"))
            else:
                raise not_found()
        except SandboxError as error:
            self._reply(error.status, [{"message": error.message, "errorCode": error.error_code}])
        except Exception as error:  # a sandbox bug must still answer, as an org's 500 would
            body = [{"message": f"sandbox error: {error!r}", "errorCode": "UNKNOWN_EXCEPTION"}]
            self._reply(500, body)

    def _data_call(self, method: str, version: str, parts: list[str]) -> None:
        _, fault = self.org.count_call()
        if fault is not None:
            self._reply(fault.status, fault.body, fault.headers)
            return
        if not self.org.session_valid(self.headers.get("Authorization")):
            raise SandboxError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        status, payload = self._route(method, version, parts)
        self._reply(status, payload)

    def _route(  # noqa: PLR0911  - one return per route reads as a route table
        self, method: str, version: str, parts: list[str]
    ) -> tuple[int, Any]:
        org, head = self.org, parts[0]
        match (method, head, len(parts)):
            case ("GET", "limits", 1):
                remaining = DAILY_API_LIMIT - org.api_calls
                return 200, {"DailyApiRequests": {"Max": DAILY_API_LIMIT, "Remaining": remaining}}
            case ("GET", "query" | "queryAll", 1):
                text = parse_qs(urlsplit(self.path).query).get("q", [""])[0]
                batch = self._batch_size()
                return 200, org.run_query(text, head == "queryAll", batch, version)
            case ("GET", "query" | "queryAll", 2):
                return 200, org.query_more(parts[1], version)
            case ("GET", "sobjects", 1):
                described = [describe_object(o, version) for o in OBJECTS.values()]
                return 200, {"sobjects": [{k: d[k] for k in ("name", "keyPrefix", "urls")}
                                          for d in described]}  # fmt: skip
            case ("GET", "sobjects", 3) if parts[2] == "describe":
                return 200, describe_object(find_object(parts[1]), version)
            case ("GET", "sobjects", 3):
                return 200, org.get_record(parts[1], parts[2])
            case ("PATCH", "sobjects", 3):
                org.update_record(parts[1], parts[2], self._json_object())
                return 204, None
            case ("DELETE", "sobjects", 3):
                org.delete_record(parts[1], parts[2])
                return 204, None
            case ("PATCH", "composite", 4) if parts[1] == "sobjects":
                return 200, org.upsert_collection(parts[2], parts[3], self._json_object())
        raise not_found()

    def _json_object(self) -> dict[str, Any]:
        try:
            body = json.loads(self._body or b"null")
        except ValueError as error:
            raise SandboxError(400, "JSON_PARSER_ERROR", "The body is not JSON") from error
        if not isinstance(body, dict):
            raise SandboxError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        return body

    def _batch_size(self) -> int:
        """The batchSize of Sforce-Query-Options, clamped to Salesforce's 200..2000."""
        options = self.headers.get("Sforce-Query-Options") or ""
        for option in options.split(","):
            name, _, value = option.strip().partition("=")
            if name.strip().lower() == "batchsize" and value.strip().isdigit():
                return min(max(int(value), 200), 2000)
        return self.org.page_size


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
    ) -> None:
        self._org = SandboxOrg(
            page_size=page_size, accounts=accounts, orders=orders, products=products,
            invalid_records=invalid_records, seed=seed,
        )  # fmt: skip
        self._tls: SandboxTls | None = None
        self._server: LoopbackServer | None = None

    def start(self) -> SalesforceSandbox:
        """Create the test CA and serve; returns self."""
        self._tls = SandboxTls()
        self._server = LoopbackServer(
            _SalesforceHandler, self._org, ssl_context=self._tls.server_context()
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
        return self._org.credentials

    @property
    def api_calls(self) -> int:
        """Data API calls served so far (faulted ones included)."""
        return self._org.api_calls

    @property
    def invalid_record_ids(self) -> dict[str, str]:
        """Ids of records designed to fail canonical validation, with the reason."""
        return dict(self._org.invalid_record_ids)

    def settings(self, **overrides: Any) -> SalesforceSettings:
        """Connection settings for this org, trusting its CA."""
        creds = self.credentials
        values: dict[str, Any] = {
            "login_url": self.url, "username": creds.username,
            "password": SecretStr(creds.password),
            "security_token": SecretStr(creds.security_token), "client_id": creds.client_id,
            "client_secret": SecretStr(creds.client_secret), "ca_bundle": self.ca_bundle,
        }  # fmt: skip
        values.update(overrides)
        return SalesforceSettings(**values)

    def records(self, object_name: str) -> list[dict[str, Any]]:
        """Copies of every record of one object, deleted ones included."""
        with self._org.lock:
            return [dict(r) for r in self._org.records_of(find_object(object_name).name)]

    def update_record(self, object_name: str, record_id: str, changes: dict[str, Any]) -> None:
        """Edit a record as a user would; bumps SystemModstamp (and its Order's, for a line)."""
        self._org.update_record(object_name, record_id, changes)

    def delete_record(self, object_name: str, record_id: str) -> None:
        """Soft-delete a record (IsDeleted=true), as the REST DELETE does."""
        self._org.delete_record(object_name, record_id)

    def expire_sessions(self) -> None:
        """Invalidate every access token: the next data call answers 401 INVALID_SESSION_ID."""
        self._org.expire_sessions()

    def inject_fault(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` data API calls with this status, body and headers."""
        self._org.inject_fault(status, body, headers or {}, times)
