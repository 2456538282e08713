"""The HTTP endpoint of `revbridge serve`: /metrics, /healthz (alive) and /readyz (store ok),
and ``POST /webhooks/stripe`` when Stripe webhook secrets are configured
(:mod:`sync.service.webhooks`).

Liveness only says the process answers; readiness says the store is reachable and its schema is
at this version's head, so an orchestrator holds traffic and restarts apart.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sync.service.metrics import ServeMetrics
from sync.service.webhooks import STRIPE_WEBHOOK_PATH, StripeWebhookEndpoint
from sync.store import Store
from sync.store.database import StoreError

log = logging.getLogger("revbridge.serve")


@dataclass(frozen=True)
class Readiness:
    """Whether the store is usable, and why not."""

    ready: bool
    detail: str


def check_readiness(store: Store) -> Readiness:
    """Ready when the store answers and its migrations are at head."""
    try:
        current = store.current_revision()
        head = store.head_revision()
    except (StoreError, sa.exc.SQLAlchemyError) as error:
        return Readiness(False, f"store unreachable: {type(error).__name__}")
    if current != head:
        return Readiness(False, f"store at revision {current}, expected {head}")
    return Readiness(True, f"store at revision {current}")


class _Handler(BaseHTTPRequestHandler):
    server: StatusServer

    def do_GET(self) -> None:
        """Serve one of the three endpoints."""
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(
                HTTPStatus.OK, generate_latest(self.server.metrics.registry), CONTENT_TYPE_LATEST
            )
        elif path == "/healthz":
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        elif path == "/readyz":
            readiness = check_readiness(self.server.store)
            status = HTTPStatus.OK if readiness.ready else HTTPStatus.SERVICE_UNAVAILABLE
            self._send_json(status, {"ready": readiness.ready, "detail": readiness.detail})
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {path}"})

    def do_POST(self) -> None:
        """Receive a Stripe webhook; any other POST is unknown (its body is never read)."""
        path = self.path.split("?", 1)[0]
        endpoint = self.server.webhooks
        if path != STRIPE_WEBHOOK_PATH or endpoint is None:
            self.close_connection = True
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {path}"})
            return
        reply = endpoint.receive(self.headers, self.rfile)
        # A refused body may still be on the wire: answer, then close rather than read it.
        self.close_connection = self.close_connection or reply.close
        self._send_json(reply.status, dict(reply.body))

    def _send_json(self, status: HTTPStatus, document: dict[str, Any]) -> None:
        self._send(status, json.dumps(document).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep probe and scrape requests out of the logs."""


class StatusServer(ThreadingHTTPServer):
    """Serves the endpoints from a daemon thread; ``port`` is the bound one (0 picks one)."""

    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        store: Store,
        metrics: ServeMetrics,
        *,
        webhooks: StripeWebhookEndpoint | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.store = store
        self.metrics = metrics
        self.webhooks = webhooks
        self._thread = threading.Thread(target=self.serve_forever, name="status-http", daemon=True)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.server_address[1])

    def start(self) -> StatusServer:
        """Start answering requests."""
        self._thread.start()
        log.info(
            "serving /metrics, /healthz and /readyz%s on port %d",
            f" and POST {STRIPE_WEBHOOK_PATH}" if self.webhooks else "",
            self.port,
            extra={"port": self.port},
        )
        return self

    def stop(self) -> None:
        """Stop answering and close the socket."""
        self.shutdown()
        self.server_close()
