"""Run a request handler on a free loopback port in a background thread."""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar


@dataclass
class RequestGate:
    """Holds matching requests so a test can act (e.g. SIGKILL a client) at an exact point.

    The first ``let_through`` matching requests pass; from then on every matching request
    waits until :meth:`release` (or ``timeout`` seconds, so a forgotten gate can't hang).
    With ``after`` set, requests only match once a request whose path contains ``after`` has
    been seen (e.g. the next page of one particular query). ``passed_answered`` is set once
    every let-through request has been answered: a client that writes concurrently may reach
    the gate while an earlier request's body is still on the wire, and a kill at that moment
    would make the earlier request vanish rather than land.
    """

    method: str
    path_prefix: str
    let_through: int = 0
    timeout: float = 60.0
    after: str | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    passed_answered: threading.Event = field(default_factory=threading.Event)
    _passed_pending: int = 0
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._passed_pending = self.let_through
        if self.let_through == 0:
            self.passed_answered.set()

    def hold_if_matching(self, method: str, path: str) -> bool:
        """Block the calling request thread when it matches and the gate is closed.

        Returns True for a matching request let through, whose answer :meth:`answered` reports.
        """
        with self._lock:
            if self.after is not None and self.after in path:
                self.after = None
                return False
        if self.after is not None or method != self.method:
            return False
        if not path.startswith(self.path_prefix):
            return False
        with self._lock:
            if self.let_through > 0:
                self.let_through -= 1
                return True
        self.arrived.set()
        self._released.wait(self.timeout)
        return False

    def answered(self) -> None:
        """Record that a let-through request has been handled (or its client hung up)."""
        with self._lock:
            self._passed_pending -= 1
            if self._passed_pending <= 0:
                self.passed_answered.set()

    def wait_until_held(self, timeout: float) -> bool:
        """Wait for a held request and for every let-through request to be answered."""
        return self.arrived.wait(timeout) and self.passed_answered.wait(timeout)

    def release(self) -> None:
        """Let held and future requests through."""
        self._released.set()


class _GatedServer(ThreadingHTTPServer):
    gate: RequestGate | None = None


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 handler with JSON helpers; subclasses implement ``do_*``."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK (40 ms a response on Linux).
    disable_nagle_algorithm = True
    # Each sandbox sets its state object on a subclass made per server instance.
    state: ClassVar[Any] = None

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the sandboxes run inside tests and the demo."""

    def handle(self) -> None:
        """Serve the connection; a client that hung up (killed, timed out) is not an error."""
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            # The client hung up or gave up (killed, timed out) before the answer went out.
            self.close_connection = True

    def handle_one_request(self) -> None:
        """Serve one request; tell the gate when a request it let through has been answered."""
        self._passed_gate: RequestGate | None = None
        try:
            super().handle_one_request()
        finally:
            if self._passed_gate is not None:
                self._passed_gate.answered()

    def parse_request(self) -> bool:
        """Parse as usual, then wait at the server's request gate if one is set."""
        if not super().parse_request():
            return False
        gate = getattr(self.server, "gate", None)
        if gate is not None and gate.hold_if_matching(self.command, self.path):
            self._passed_gate = gate
        return True

    def read_body(self) -> bytes:
        """Return the request body (empty when there is none)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def read_json(self) -> Any:
        """Parse the request body as JSON."""
        body = self.read_body()
        return json.loads(body) if body else None

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response with an explicit length, so keep-alive works."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Send ``payload`` as a JSON response."""
        body = json.dumps(payload, default=str).encode()
        self.send_body(status, body, "application/json;charset=UTF-8", headers)


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 with an ephemeral port, optionally over TLS."""

    def __init__(
        self,
        handler: type[SandboxRequestHandler],
        state: Any,
        *,
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        handler_class = type(handler.__name__, (handler,), {"state": state})
        self._httpd = _GatedServer(("127.0.0.1", port), handler_class)
        self._httpd.daemon_threads = True
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._scheme = "https" if ssl_context is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"{self._scheme}://127.0.0.1:{self.port}"

    def hold_requests(
        self, method: str, path_prefix: str, *, let_through: int = 0, after: str | None = None
    ) -> RequestGate:
        """Install a gate that holds matching requests after ``let_through`` have passed."""
        gate = RequestGate(method, path_prefix, let_through=let_through, after=after)
        return self.install_gate(gate)

    def install_gate(self, gate: RequestGate) -> RequestGate:
        """Install a prepared gate (fault tests build their own, e.g. with a long timeout)."""
        self._httpd.gate = gate
        return gate

    def start(self) -> LoopbackServer:
        """Serve in a daemon thread; returns self for chaining."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd.gate is not None:
            self._httpd.gate.release()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
