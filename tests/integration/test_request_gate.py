"""The sandboxes' request gate: a kill test acts only once the requests it let through landed."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sandboxes.server import LoopbackServer, SandboxRequestHandler
from tests.serve_harness import wait_until


class _EchoHandler(SandboxRequestHandler):
    """Answers a POST with the size of the body it read (the body must arrive in full)."""

    def do_POST(self) -> None:
        self.send_json(200, {"read": len(self.read_body())})


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(_EchoHandler, state=None) as running:
        yield running


def _post_head(port: int, body_length: int) -> socket.socket:
    """Open a connection and send a POST's headers only; the body is still to come."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /v1/orders/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {body_length}\r\nConnection: close\r\n\r\n"
    )
    connection.sendall(head.encode())
    return connection


def _answer(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(4096):
        chunks.append(chunk)
    connection.close()
    return b"".join(chunks)


def test_passed_answered_waits_for_a_let_through_request_still_uploading(
    server: LoopbackServer,
) -> None:
    gate = server.hold_requests("POST", "/v1/orders/", let_through=1)
    first = _post_head(server.port, 5)  # let through, but its body is not sent yet
    # Connections are served in any order: open the second once the first has passed.
    wait_until(lambda: gate.let_through == 0, timeout=10, what="the first request at the gate")
    second = _post_head(server.port, 2)
    second.sendall(b"{}")

    assert gate.arrived.wait(timeout=10)  # the second request is held
    # The first request passed the gate but has not been answered: a kill now would lose it.
    assert not gate.passed_answered.is_set()

    first.sendall(b"abcde")
    assert gate.wait_until_held(timeout=10)
    assert b'{"read": 5}' in _answer(first)
    gate.release()
    assert b'{"read": 2}' in _answer(second)


def test_a_gate_that_lets_nothing_through_needs_only_the_held_request(
    server: LoopbackServer,
) -> None:
    gate = server.hold_requests("POST", "/v1/orders/")
    held = _post_head(server.port, 0)
    assert gate.wait_until_held(timeout=10)
    gate.release()
    assert b'{"read": 0}' in _answer(held)
