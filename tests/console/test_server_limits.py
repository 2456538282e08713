"""The HTTP server's caps, in process: connections beyond the cap get 503 at once, a silent
client is dropped after the header timeout and the server recovers, an oversized request head
is refused, and a kept-alive connection goes on serving."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sync.service.http_server import HttpLimits, HttpServer

LIMITS = HttpLimits(header_timeout=1.0, max_connections=16, max_header_bytes=4096)


async def _hello(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


@pytest.fixture
def server() -> Iterator[HttpServer]:
    app = Starlette(routes=[Route("/", _hello)])
    running = HttpServer(app, "127.0.0.1", 0, limits=LIMITS).start()
    yield running
    running.stop()


def _silent(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def _wait_closed(connections: list[socket.socket], seconds: float) -> int:
    selector = selectors.DefaultSelector()
    for connection in connections:
        selector.register(connection, selectors.EVENT_READ)
    closed, deadline = 0, time.monotonic() + seconds
    while closed < len(connections) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            if not ready.recv(1024):
                selector.unregister(ready)
                closed += 1
    selector.close()
    return closed


def test_past_the_connection_cap_a_request_gets_503_until_the_silent_ones_are_dropped(
    server: HttpServer,
) -> None:
    url = f"http://127.0.0.1:{server.port}/"
    held = _silent(server.port, LIMITS.max_connections)
    try:
        refused = requests.get(url, timeout=10)
        dropped = _wait_closed(held, LIMITS.header_timeout + 20)
        served = requests.get(url, timeout=10)
    finally:
        for connection in held:
            connection.close()

    assert refused.status_code == 503
    assert dropped == LIMITS.max_connections
    assert (served.status_code, served.text) == (200, "hello")


def test_half_a_request_head_is_dropped_after_the_header_timeout(server: HttpServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")

        assert _wait_closed([connection], LIMITS.header_timeout + 20) == 1


def test_an_oversized_request_head_is_refused(server: HttpServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192)
        answer = connection.recv(4096)

    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] in (b"400", b"431")


def test_a_kept_alive_connection_serves_several_requests(server: HttpServer) -> None:
    with requests.Session() as session:
        answers = [session.get(f"http://127.0.0.1:{server.port}/", timeout=10) for _ in range(3)]

    assert [a.text for a in answers] == ["hello"] * 3
