"""One structured log line per HTTP request: method, path, status, duration and client.

Probes and scrapes (``/healthz``, ``/readyz``, ``/metrics``) log at DEBUG, so a kubelet
polling every few seconds doesn't bury the lines people read. The query string is never
logged (it may carry a ``next`` address or a search for a customer's id), nor any header.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("revbridge.http")

_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _printable(path: str) -> str:
    # A path is the client's text: control characters would forge lines in a human log.
    return path if path.isprintable() else ascii(path)


class AccessLog:
    """ASGI middleware logging each request once its response has started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, noting its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, note_status)
        finally:
            self._log(scope, status, time.perf_counter() - started)

    @staticmethod
    def _log(scope: Scope, status: int, seconds: float) -> None:
        path = _printable(str(scope.get("path", ""))[:500])
        client: Any = scope.get("client")
        fields = {
            "http_method": scope.get("method", ""),
            "http_path": path,
            "http_status": status,
            "duration_ms": round(seconds * 1000, 1),
            "client": client[0] if client else None,
        }
        level = logging.DEBUG if path in _QUIET_PATHS and status < 500 else logging.INFO
        log.log(level, "%s %s %d", fields["http_method"], path, status, extra=fields)
