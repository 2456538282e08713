"""One data API request as the Salesforce sandbox's routes see it, top-level or a subrequest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sandboxes.salesforce.writes import SandboxError


@dataclass(frozen=True)
class DataRequest:
    """Method, API version, path parts after ``/services/data/vXX.X/``, raw body, query."""

    method: str
    version: str
    parts: list[str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, or Salesforce's 400 JSON_PARSER_ERROR."""
        try:
            body = json.loads(self.body or b"null")
        except ValueError as error:
            raise SandboxError(400, "JSON_PARSER_ERROR", "The body is not JSON") from error
        if not isinstance(body, dict):
            raise SandboxError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        return body
