"""Drive real ``revbridge serve`` processes in tests: JSON log lines observed as they come.

Tests wait on observable events (a log line, a row in the store) with a timeout, never on a
fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from tests.cli_process import cli_env, revbridge

NEVER = "0 0 1 1 *"  # a schedule that won't fire during a test: runs come from --run-now
LogLine = dict[str, Any]
T = TypeVar("T")


def write_serve_config(
    path: Path, sandboxes: Sandboxes, database_url: str, **sections: Any
) -> Path:
    """A config for the sandboxes with one flow, short leases, and any extra sections."""
    document = sandboxes.settings_document(database_url)
    document["flows"] = [{"name": "quote-to-cash", "schedule": NEVER}]
    document["serve"] = {"lease_seconds": 2.0, "heartbeat_seconds": 0.4}
    document["retry"] = {"attempts": 1, "max_wait_seconds": 1}
    document.update(sections)
    write_sandbox_config(path, document)
    return path


class ServeProcess:
    """One ``revbridge serve --run-now --log-format json --metrics-port 0`` process."""

    def __init__(self, config: Path, *extra: str) -> None:
        command = revbridge("serve", "--config", str(config), "--run-now")
        command += ["--log-format", "json", "--metrics-port", "0", *extra]
        self.lines: list[LogLine] = []
        self.raw: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=cli_env()
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """The process id (part of its lease owner name)."""
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stderr is not None
        for text in self.process.stderr:
            with self._changed:
                self.raw.append(text)
                if text.startswith("{"):
                    self.lines.append(json.loads(text))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[LogLine], bool], timeout: float = 60) -> LogLine:
        """The first log line matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.process.poll() is not None and not self._reader.is_alive()
                ):
                    output = "".join(self.raw[-30:])
                    raise AssertionError(f"no such log line; serve said:\n{output}")
                self._changed.wait(remaining)

    def finished_runs(self) -> list[LogLine]:
        """The per-run log lines so far."""
        with self._changed:
            return [line for line in self.lines if "status" in line and "run_id" in line]

    def port(self) -> int:
        """The port of /metrics, /healthz and /readyz."""
        return int(self.wait_for(lambda line: "port" in line)["port"])

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL (a crash) and reap."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def close(self) -> None:
        """Make sure the process is gone."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._reader.join(timeout=10)


def wait_until(condition: Callable[[], T | None], timeout: float = 60, what: str = "") -> T:
    """Poll ``condition`` (a store query) until it returns a value, up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    stop = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        stop.wait(0.05)


class WebhookReceiver(ThreadingHTTPServer):
    """A loopback Slack-style webhook that keeps every JSON body posted to it."""

    def __init__(self, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.status = status
        self.posts: list[dict[str, Any]] = []
        self.posted = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The receiver's base URL."""
        return f"http://127.0.0.1:{self.server_port}"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()


class _WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append(
            {"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)}
        )
        self.server.posted.set()
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


SMALL = SandboxSize(accounts=6, orders=40, products=4)
PAGED = SandboxSize(accounts=12, orders=450, products=6, page_size=200)
