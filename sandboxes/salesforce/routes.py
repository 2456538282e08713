"""HTTP routes of the Salesforce sandbox: OAuth, REST data API and Bulk API 2.0.

Every data API response carries ``Sforce-Limit-Info``; a call past the daily allocation gets
403 ``REQUEST_LIMIT_EXCEEDED``; injected faults come first, then the session check.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandboxes.salesforce.bulk import SandboxBulk
from sandboxes.salesforce.composite import run_composite
from sandboxes.salesforce.cpq_objects import OBJECTS
from sandboxes.salesforce.deletes import delete_collection
from sandboxes.salesforce.org import SandboxOrg
from sandboxes.salesforce.request import DataRequest
from sandboxes.salesforce.writes import (
    SandboxError,
    describe_object,
    find_object,
    not_found,
)
from sandboxes.server import SandboxRequestHandler

_DATA_PATH = re.compile(r"/services/data/v(\d+\.\d+)/(.+)")
_JSON = "application/json;charset=UTF-8"
Answer = tuple[int, Any]


class SalesforceHandler(SandboxRequestHandler):
    """Routes Salesforce paths to the org and its Bulk jobs."""

    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        """Handle PATCH."""
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        """Handle PUT."""
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch("DELETE")

    @property
    def org(self) -> SandboxOrg:
        """The org this server serves."""
        org: SandboxOrg = self.state[0]
        return org

    @property
    def bulk(self) -> SandboxBulk:
        """The org's Bulk API 2.0 jobs."""
        bulk: SandboxBulk = self.state[1]
        return bulk

    def _reply(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        headers = {"Sforce-Limit-Info": self.org.limit_info(), **(extra or {})}
        if isinstance(payload, bytes):
            self.send_body(status, payload, "text/csv", headers)
        elif payload is None:
            self.send_body(status, b"", _JSON, headers)
        else:
            self.send_json(status, payload, headers)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        # Read the body up front, even for requests refused early, so keep-alive stays in sync.
        self._body = self.read_body()
        try:
            if method == "POST" and url.path == "/services/oauth2/token":
                form = {k: v[0] for k, v in parse_qs(self._body.decode()).items()}
                self._reply(*self.org.login.token(form))
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
        self.org.count_call(write=_writes_records(method, parts))
        fault = self.org.faults.next_fault(self.path)
        if fault is not None and fault.delay_seconds:
            threading.Event().wait(fault.delay_seconds)
        if fault is not None and fault.drop:
            # Hang up without a response, as a dropped connection or a proxy reset would.
            self.close_connection = True
            return
        if fault is not None and fault.status:
            self._reply(fault.status, fault.body, fault.headers)
            return
        if self.org.over_allocation():
            raise SandboxError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if not self.org.login.session_valid(self.headers.get("Authorization")):
            raise SandboxError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        request = DataRequest(method, version, parts, self._body, self._params())
        if parts[0] == "jobs":
            self._reply(*self._bulk_route(request))
        elif (method, parts) == ("POST", ["composite"]):
            self._reply(*run_composite(request, self._route, self.org.faults))
        else:
            self._reply(*self._route(request))

    def _route(self, request: DataRequest) -> Answer:  # noqa: PLR0911  - a route table
        org, version, parts = self.org, request.version, request.parts
        method, head = request.method, parts[0]
        match (method, head, len(parts)):
            case ("GET", "limits", 1):
                remaining = org.daily_api_limit - org.api_calls
                return 200, {"DailyApiRequests": {"Max": org.daily_api_limit,
                                                  "Remaining": remaining}}  # fmt: skip
            case ("GET", "query" | "queryAll", 1):
                text = request.params.get("q", "")
                return 200, org.run_query(text, head == "queryAll", self._batch_size(), version)
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
                org.update_record(parts[1], parts[2], request.json_object())
                return 204, None
            case ("DELETE", "sobjects", 3):
                org.delete_record(parts[1], parts[2])
                return 204, None
            case ("DELETE", "composite", 2) if parts[1] == "sobjects":
                return 200, delete_collection(org, request.params)
            case ("PATCH", "composite", 4) if parts[1] == "sobjects":
                return 200, org.upsert_collection(parts[2], parts[3], request.json_object())
        raise not_found()

    def _bulk_route(  # noqa: PLR0911  - one return per route reads as a route table
        self, request: DataRequest
    ) -> tuple[int, Any] | tuple[int, Any, dict[str, str]]:
        bulk, version, params = self.bulk, request.version, request.params
        match (request.method, request.parts[1:]):
            case ("POST", ["query"]):
                return 200, bulk.create_query(request.json_object(), version)
            case ("GET", ["query", job_id]):
                return 200, bulk.job_info(job_id, "V2Query")
            case ("GET", ["query", job_id, "results"]):
                max_records = int(params.get("maxRecords") or 50_000)
                return 200, *bulk.query_results(job_id, params.get("locator"), max_records)
            case ("POST", ["ingest"]):
                return 200, bulk.create_ingest(request.json_object(), version)
            case ("PUT", ["ingest", job_id, "batches"]):
                bulk.upload(job_id, request.body)
                return 201, None
            case ("PATCH", ["ingest", job_id]):
                return 200, bulk.change_state(job_id, str(request.json_object().get("state")))
            case ("GET", ["ingest", job_id]):
                return 200, bulk.job_info(job_id, "V2Ingest")
            case ("GET", ["ingest", job_id, listing]):
                return 200, bulk.ingest_results(job_id, listing)
        raise not_found()

    def _params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def _batch_size(self) -> int:
        """The batchSize of Sforce-Query-Options, clamped to Salesforce's 200..2000."""
        options = self.headers.get("Sforce-Query-Options") or ""
        for option in options.split(","):
            name, _, value = option.strip().partition("=")
            if name.strip().lower() == "batchsize" and value.strip().isdigit():
                return min(max(int(value), 200), 2000)
        return self.org.page_size


def _writes_records(method: str, parts: list[str]) -> bool:
    """True for a data call that creates, changes or deletes records, whatever its answer.

    Every non-GET data route writes except creating a Bulk query job, which only reads; each
    request of a Bulk ingest job (create, upload, close) counts, as each is an API call.
    """
    return method != "GET" and parts[:2] != ["jobs", "query"]
