"""The ASGI app of `serve`'s HTTP port: /metrics, /healthz, /readyz, Stripe's webhooks, and
whatever app the caller mounts under them (the console, wired by the CLI).

``/healthz`` answers from the event loop itself, touching neither the store nor a thread, so
it keeps answering while slow clients or a stuck store hold everything else. ``/readyz`` and
``/metrics`` read the store and run in Starlette's bounded thread pool.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from sync.service.metrics import ServeMetrics
from sync.service.readiness import check_readiness
from sync.service.webhooks import STRIPE_WEBHOOK_PATH, StripeWebhookEndpoint, content_length
from sync.store import Store

log = logging.getLogger("revbridge.serve")

BODY_TIMEOUT_SECONDS = 10.0


def _not_found(request: Request, _error: Exception) -> Response:
    return JSONResponse({"error": f"no such endpoint: {request.url.path}"}, status_code=404)


async def _healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _readyz(store: Store) -> Callable[[Request], Response]:
    def readyz(_request: Request) -> Response:
        readiness = check_readiness(store)
        status = 200 if readiness.ready else 503
        return JSONResponse({"ready": readiness.ready, "detail": readiness.detail}, status)

    return readyz


def _metrics(metrics: ServeMetrics) -> Callable[[Request], Response]:
    def scrape(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return scrape


async def _body(request: Request, length: int) -> bytes | None:
    """The body of a stated ``length``, or None when the client is too slow to send it."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            return await request.body()
    except TimeoutError:
        return None


def _webhook(endpoint: StripeWebhookEndpoint) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        length = content_length(request.headers)
        body = b""
        if length is not None and length <= endpoint.max_body_bytes:
            read = await _body(request, length)
            if read is None:
                log.warning("Stripe webhook refused: the body did not arrive in time")
                headers = {"Connection": "close"}
                return JSONResponse({"error": "request timeout"}, 408, headers=headers)
            body = read
        # The endpoint refuses a missing or excessive length before it reads anything.
        reply = await run_in_threadpool(endpoint.receive, request.headers, io.BytesIO(body))
        closing = {"Connection": "close"} if reply.close else None
        return JSONResponse(dict(reply.body), status_code=int(reply.status), headers=closing)

    return receive


def status_app(
    store: Store,
    metrics: ServeMetrics,
    *,
    webhooks: StripeWebhookEndpoint | None = None,
    mounted: ASGIApp | None = None,
) -> ASGIApp:
    """The HTTP port's app; ``mounted`` answers every path the service's own routes don't."""
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz(store), methods=["GET"]),
        Route("/metrics", _metrics(metrics), methods=["GET"]),
    ]
    if webhooks is not None:
        routes.append(Route(STRIPE_WEBHOOK_PATH, _webhook(webhooks), methods=["POST"]))
    if mounted is not None:
        routes.append(Mount("", app=mounted))
    # A POST to /metrics is as unknown as any other path: 404, not 405.
    handlers = {404: _not_found, 405: _not_found}
    return Starlette(routes=routes, exception_handlers=handlers)
