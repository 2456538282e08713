"""The HTTP port of `revbridge serve`: /metrics, /healthz (alive) and /readyz (store ok),
``POST /webhooks/stripe`` when Stripe webhook secrets are configured
(:mod:`sync.service.webhooks`), and the console when the CLI mounts it.

The routes are :mod:`sync.service.http_app`; the server is uvicorn with caps on slow clients
(:mod:`sync.service.http_server`).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp

from sync.service.http_app import status_app
from sync.service.http_server import HttpLimits, HttpServer
from sync.service.metrics import ServeMetrics
from sync.service.readiness import Readiness, check_readiness
from sync.service.webhooks import STRIPE_WEBHOOK_PATH, StripeWebhookEndpoint
from sync.store import Store

log = logging.getLogger("revbridge.serve")

__all__ = ["Readiness", "StatusServer", "check_readiness"]


class StatusServer:
    """Serves the endpoints from a daemon thread; ``port`` is the bound one (0 picks one)."""

    def __init__(
        self,
        host: str,
        port: int,
        store: Store,
        metrics: ServeMetrics,
        *,
        webhooks: StripeWebhookEndpoint | None = None,
        mounted: ASGIApp | None = None,
        limits: HttpLimits | None = None,
    ) -> None:
        app = status_app(store, metrics, webhooks=webhooks, mounted=mounted)
        self._server = HttpServer(app, host, port, limits=limits)
        self._described = "/metrics, /healthz and /readyz"
        if webhooks is not None:
            self._described += f" and POST {STRIPE_WEBHOOK_PATH}"
        if mounted is not None:
            self._described += " and the console"

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._server.port

    def start(self) -> StatusServer:
        """Start answering requests."""
        self._server.start()
        log.info("serving %s on port %d", self._described, self.port, extra={"port": self.port})
        return self

    def stop(self) -> None:
        """Stop answering and close the socket."""
        self._server.stop()
