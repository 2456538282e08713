"""One HTTP server for `serve` and `console`: uvicorn in a thread, with caps on slow clients.

The hand-written ``http.server`` it replaces gave each connection a thread, had no read
timeout and a listen backlog of 5: 1,000 half-open sockets made 1,005 threads. Here one
asyncio loop holds every connection, and:

- a connection that hasn't sent a whole request head within ``header_timeout`` seconds is
  closed (uvicorn's own timer only runs between requests, so a client that opens a socket
  and says nothing, or half a header, would otherwise stay forever);
- at most ``max_connections`` connections and requests at once (uvicorn's
  ``limit_concurrency``; beyond it, a 503 at once instead of a queue);
- blocking handlers share ``worker_threads`` threads, however many clients wait;
- idle keep-alive connections close after ``keep_alive_timeout``; a request head is at most
  ``max_header_bytes``; the listen backlog is ``backlog``.

uvicorn's loggers go to the root logger (configured by :mod:`sync.service.logs`), so in
``--log-format json`` every line, tracebacks included, is one JSON object; each request is
logged once by :mod:`sync.service.access_log`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from config.settings import ServeSettings
from sync.service.access_log import AccessLog

log = logging.getLogger("revbridge.http")


@dataclass(frozen=True)
class HttpLimits:
    """How much a client may hold of the server, and for how long."""

    header_timeout: float = 10.0
    keep_alive_timeout: int = 5
    max_connections: int = 2048
    max_header_bytes: int = 16 * 1024
    backlog: int = 1024
    shutdown_timeout: int = 5
    # Threads for blocking handlers (the store's pages, /metrics, /readyz); the store's
    # connection pool would make more wait anyway.
    worker_threads: int = 16

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> HttpLimits:
        """The limits ``serve:`` configures; the rest as above."""
        return cls(
            header_timeout=settings.http_header_timeout_seconds,
            max_connections=settings.http_max_connections,
        )


class _HeaderTimedH11(H11Protocol):
    """uvicorn's h11 protocol, closing connections that take too long to send a request head."""

    header_timeout = HttpLimits.header_timeout

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request head."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Stop the clock once a whole head arrived; keep it going while it hasn't."""
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            if self._header_timer is None:
                self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Nothing to time any more."""
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """After a response the next head is timed by uvicorn's keep-alive timer."""
        self._disarm()
        super().on_response_complete()

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            # A silent close: a half-open client may never read an answer anyway.
            self.transport.close()


def _protocol(limits: HttpLimits) -> type[H11Protocol]:
    # uvicorn builds the protocol from a class: this server's timeout rides on a subclass.
    return type("HeaderTimedH11", (_HeaderTimedH11,), {"header_timeout": limits.header_timeout})


class _WorkerThreadCap:
    """Caps the thread pool Starlette runs blocking handlers in (anyio's default is 40)."""

    def __init__(self, app: Any, threads: int) -> None:
        self.app = app
        self._threads = threads
        self._capped = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self._capped:  # the limiter belongs to the running loop: set it from inside
            anyio.to_thread.current_default_thread_limiter().total_tokens = self._threads
            self._capped = True
        await self.app(scope, receive, send)


def bind_problem(error: OSError) -> str:
    """Why a listening socket could not be opened, in a few words ("Address already in use")."""
    if isinstance(error.errno, int) and error.errno > 0:
        return os.strerror(error.errno)  # create_server's own message also repeats the address
    return error.strerror or str(error)


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=backlog)
    listener.setblocking(False)
    return listener


class HttpServer:
    """Serves an ASGI app from a daemon thread; ``port`` is the bound one (0 picks one).

    The socket is bound in the constructor, so a port in use raises ``OSError`` there, and
    requests queue in the backlog until the loop takes them: no wait for start-up is needed.
    """

    def __init__(self, app: Any, host: str, port: int, *, limits: HttpLimits | None = None) -> None:
        self.limits = limits or HttpLimits()
        self._socket = _listening_socket(host, port, self.limits.backlog)
        config = uvicorn.Config(
            _WorkerThreadCap(AccessLog(app), self.limits.worker_threads),
            http=_protocol(self.limits),
            loop="asyncio",
            lifespan="off",
            log_config=None,  # logging is configured by revbridge, not replaced by uvicorn
            access_log=False,  # sync.service.access_log writes one structured line instead
            proxy_headers=False,  # the console decides which proxies to believe
            server_header=False,
            limit_concurrency=self.limits.max_connections,
            timeout_keep_alive=self.limits.keep_alive_timeout,
            h11_max_incomplete_event_size=self.limits.max_header_bytes,
            backlog=self.limits.backlog,
            timeout_graceful_shutdown=self.limits.shutdown_timeout,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._socket.getsockname()[1])

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except Exception:  # logged as one line (JSON in JSON mode); serve keeps its flows going
            log.exception("the HTTP server stopped")

    def start(self) -> HttpServer:
        """Start answering requests."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering, let requests in hand finish briefly, and close the socket."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=self.limits.shutdown_timeout + 5)
        self._socket.close()
