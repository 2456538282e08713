"""The Composite resource of the Salesforce sandbox: subrequests run in order, one API call.

``POST /services/data/vXX.X/composite`` with ``allOrNone: false`` runs each subrequest through
the org's own routes and answers ``{"compositeResponse": [{body, httpHeaders, httpStatusCode,
referenceId}, ...]}``. Like Salesforce it refuses more than 25 subrequests, or more than 5
sObject Collections or query subrequests, as a whole. The sandbox runs sObject Collections
upserts only; it refuses other kinds, ``allOrNone: true`` and ``@{reference}`` substitution
with a 400 rather than answering them wrongly. Faults scripted for subrequests
(``Fault.subrequest``) answer single subrequests; the others answer the whole request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandboxes.salesforce.faults import FaultPlan
from sandboxes.salesforce.request import DataRequest
from sandboxes.salesforce.writes import SandboxError

Answer = tuple[int, Any]
Route = Callable[[DataRequest], Answer]

MAX_SUBREQUESTS = 25
MAX_COLLECTIONS_OR_QUERIES = 5
_DATA_URL = re.compile(r"/services/data/v(\d+\.\d+)/(.+)")
_REFERENCE_ID = re.compile(r"[A-Za-z0-9_]+")
_UNSUPPORTED = "SANDBOX_UNSUPPORTED"


def run_composite(request: DataRequest, route: Route, faults: FaultPlan) -> Answer:
    """Run a Composite request's subrequests in order; the answer for the whole request."""
    body = request.json_object()
    raw = body.get("compositeRequest")
    if not isinstance(raw, list) or not raw:
        raise SandboxError(400, "JSON_PARSER_ERROR", "compositeRequest must list subrequests")
    if len(raw) > MAX_SUBREQUESTS:
        return _refused("The request can't contain more than 25 operations.")
    if body.get("allOrNone"):
        raise SandboxError(400, _UNSUPPORTED, "the sandbox runs Composite with allOrNone false")
    subrequests = [_subrequest(entry, request.version) for entry in raw]
    references = [reference for reference, _ in subrequests]
    if len(set(references)) != len(references):
        raise SandboxError(400, "JSON_PARSER_ERROR", "Duplicate ReferenceId in the request")
    if len(subrequests) > MAX_COLLECTIONS_OR_QUERIES:
        # Every subrequest the sandbox runs is an sObject Collections one.
        return _refused("The request can't contain more than 5 sObject Collections or query "
                        "operations.")  # fmt: skip
    results = [_run(reference, sub, route, faults) for reference, sub in subrequests]
    return 200, {"compositeResponse": results}


def _refused(message: str) -> Answer:
    """Salesforce's answer to a Composite request it refuses whole: one result, no reference."""
    error = {"errorCode": "LIMIT_EXCEEDED", "message": message}
    result = {"body": [error], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": None}
    return 400, {"compositeResponse": [result]}


def _subrequest(entry: Any, version: str) -> tuple[str, DataRequest]:
    if not isinstance(entry, dict):
        raise SandboxError(400, "JSON_PARSER_ERROR", "A subrequest must be a JSON object")
    method, url = str(entry.get("method", "")).upper(), str(entry.get("url", ""))
    reference = str(entry.get("referenceId", ""))
    if not _REFERENCE_ID.fullmatch(reference):
        raise SandboxError(400, "JSON_PARSER_ERROR", f"Invalid referenceId: {reference!r}")
    split = urlsplit(url)
    match = _DATA_URL.fullmatch(split.path)
    if match is None or float(match.group(1)) > float(version):
        raise SandboxError(400, "INVALID_INPUT", f"{reference}: url must be /services/data/"
                           f"vXX.X/... no later than v{version}")  # fmt: skip
    parts = match.group(2).strip("/").split("/")
    content = json.dumps(entry.get("body")) if "body" in entry else ""
    if (method, parts[:2], len(parts)) != ("PATCH", ["composite", "sobjects"], 4):
        message = (
            f"{reference}: the sandbox runs only sObject Collections upserts in a "
            f"Composite request, not {method} {url}"
        )
        raise SandboxError(400, _UNSUPPORTED, message)
    if "@{" in url or "@{" in content:
        raise SandboxError(400, _UNSUPPORTED, f"{reference}: no @{{reference}} substitution")
    params = {k: v[0] for k, v in parse_qs(split.query).items()}
    return reference, DataRequest(method, match.group(1), parts, content.encode(), params)


def _run(reference: str, request: DataRequest, route: Route, faults: FaultPlan) -> dict[str, Any]:
    path = f"/services/data/v{request.version}/{'/'.join(request.parts)}"
    fault = faults.next_fault(path, subrequest=True)
    if fault is not None and fault.status:
        status, body = fault.status, fault.body
    else:
        try:
            status, body = route(request)
        except SandboxError as error:
            status, body = error.status, [{"message": error.message,
                                           "errorCode": error.error_code}]  # fmt: skip
        except Exception as error:  # a sandbox bug must still answer, as an org's 500 would
            status = 500
            body = [{"message": f"sandbox error: {error!r}", "errorCode": "UNKNOWN_EXCEPTION"}]
    return {"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference}
