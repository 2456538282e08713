"""1,000 half-open sockets against `revbridge serve`: it keeps answering and stays small.

The ``http.server`` this replaced grew a thread per socket (1,005 threads), never timed a
slow client out, and wrote plain-text ``BrokenPipeError`` tracebacks into a JSON log. Here a
real ``serve --log-format json`` process gets 1,000 sockets at once: a third say nothing, a
third send half a request head, a third send a whole request and reset the connection
before the answer. While they are open ``/healthz`` answers; the thread count and memory stay
bounded; the server closes the silent and half-sent ones itself (after
``serve.http_header_timeout_seconds``); and every line it wrote to stderr is JSON.
"""

from __future__ import annotations

import json
import selectors
import socket
import struct
import time
from pathlib import Path

import pytest
import requests

from sync.service.http_server import HttpLimits
from tests.console.server_process import ServerProcess, write_config

SOCKETS = 1000
HEADER_TIMEOUT = 2.0
# Generous bounds: what matters is that 1,000 sockets don't become 1,000 threads or megabytes.
# The scrapes among them may start every worker thread the server allows, and no more.
MAX_EXTRA_THREADS = HttpLimits().worker_threads + 4
MAX_EXTRA_RSS_KIB = 100 * 1024

pytestmark = pytest.mark.slow


def _open(port: int, kind: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    if kind == 1:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
    elif kind == 2:
        connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        # Linger 0: close() sends a reset, so the server writes its answer to a dead peer.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    return connection


def _closed_by_server(connections: list[socket.socket], deadline: float) -> int:
    """How many of ``connections`` the server closed before ``deadline`` (monotonic)."""
    selector = selectors.DefaultSelector()
    for connection in connections:
        connection.setblocking(False)
        selector.register(connection, selectors.EVENT_READ)
    closed = 0
    while closed < len(connections) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            try:
                data = ready.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data:
                selector.unregister(ready)
                closed += 1
    selector.close()
    return closed


def _healthz(base: str) -> int:
    return requests.get(f"{base}/healthz", timeout=5).status_code


def test_a_thousand_half_open_sockets_leave_healthz_answering_and_the_server_small(
    database_url: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "revbridge.yaml", database_url, http_header_timeout_seconds=HEADER_TIMEOUT
    )
    server = ServerProcess(
        "serve", "-c", str(config), "--metrics-port", "0", "--log-format", "json"
    )
    opened: list[socket.socket] = []
    try:
        port = int(json.loads(server.wait_for_line('"port"'))["port"])
        base = f"http://127.0.0.1:{port}"
        assert _healthz(base) == 200
        threads, rss = server.threads(), server.rss_kib()

        opened = [_open(port, kind % 3) for kind in range(SOCKETS)]
        half_open = [c for kind, c in enumerate(opened) if kind % 3 != 2]

        assert [_healthz(base) for _ in range(5)] == [200] * 5
        assert server.threads() <= threads + MAX_EXTRA_THREADS
        assert server.rss_kib() <= rss + MAX_EXTRA_RSS_KIB
        deadline = time.monotonic() + HEADER_TIMEOUT + 30
        assert _closed_by_server(half_open, deadline) == len(half_open)
        assert _healthz(base) == 200
        assert server.threads() <= threads + MAX_EXTRA_THREADS
    finally:
        for connection in opened:
            connection.close()
        code = server.stop() if server.process.poll() is None else server.process.returncode
        server.close()

    assert code == 0
    assert server.lines, "serve wrote nothing"
    not_json = [line for line in server.lines if not _is_json_object(line)]
    assert not_json == []


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False
