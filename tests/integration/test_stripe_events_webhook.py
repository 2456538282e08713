"""POST /webhooks/stripe on serve's HTTP port: signed events start a run, nothing else does.

The status server runs on a loopback port with the store on SQLite and PostgreSQL; deliveries
come from the Stripe sandbox's ``send_webhook``, signed as Stripe signs them, or by hand where
a test needs a broken request.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from sandboxes.billing.stripe.events import send_webhook, signature_header
from sync.service.health import StatusServer
from sync.service.metrics import ServeMetrics
from sync.service.webhooks import StripeSignatureVerifier, StripeWebhookEndpoint
from sync.store import Store

SECRET = "whsec_revbridge_test_4f9c1e7a"
EVENT = {
    "id": "evt_00000000000042",
    "object": "event",
    "type": "invoice.paid",
    "created": 1767607300,
    "data": {"object": {"id": "in_00000000000001", "object": "invoice", "status": "paid"}},
}


class RecordingTrigger:
    """Counts run requests instead of running flows."""

    def __init__(self) -> None:
        self.requests = 0

    def request(self) -> None:
        self.requests += 1


@pytest.fixture
def trigger() -> RecordingTrigger:
    return RecordingTrigger()


@pytest.fixture
def server(database_url: str, trigger: RecordingTrigger) -> Iterator[StatusServer]:
    store = Store(database_url)
    secrets = [SecretStr("whsec_rolled_out_old"), SecretStr(SECRET)]
    endpoint = StripeWebhookEndpoint(StripeSignatureVerifier(secrets, 300), trigger)
    running = StatusServer("127.0.0.1", 0, store, ServeMetrics(store), webhooks=endpoint).start()
    yield running
    running.stop()
    store.close()


def _url(server: StatusServer) -> str:
    return f"http://127.0.0.1:{server.port}/webhooks/stripe"


def _event(**changes: Any) -> dict[str, Any]:
    return {**EVENT, **changes}


def test_a_correctly_signed_event_is_accepted_and_starts_a_run(
    server: StatusServer, trigger: RecordingTrigger
) -> None:
    answer = send_webhook(_url(server), EVENT, SECRET)

    assert answer.status == 200
    assert json.loads(answer.body) == {"received": True}
    assert trigger.requests == 1


def test_an_event_signed_with_the_secret_being_rolled_out_is_accepted_too(
    server: StatusServer, trigger: RecordingTrigger
) -> None:
    answer = send_webhook(_url(server), EVENT, ["whsec_not_ours", "whsec_rolled_out_old"])

    assert (answer.status, trigger.requests) == (200, 1)


def _refusals(server: StatusServer) -> dict[str, tuple[int, bytes]]:
    url = _url(server)
    now = int(time.time())
    send_webhook(url, _event(id="evt_first"), SECRET)  # accepted; replayed below
    replay_body = json.dumps(_event(id="evt_first")).encode()
    missing = requests.post(url, data=replay_body, timeout=10)
    answers = {
        "wrong secret": send_webhook(url, _event(id="evt_a"), "whsec_wrong"),
        "too old": send_webhook(url, _event(id="evt_b"), SECRET, timestamp=now - 301),
        "from the future": send_webhook(url, _event(id="evt_c"), SECRET, timestamp=now + 400),
        "replayed event": send_webhook(url, _event(id="evt_first"), SECRET),
    }
    tampered = requests.post(
        url,
        data=json.dumps(_event(id="evt_d", type="invoice.voided")).encode(),
        headers={"Stripe-Signature": signature_header(replay_body, [SECRET], now)},
        timeout=10,
    )
    refused = {name: (a.status, a.body) for name, a in answers.items()}
    refused["missing header"] = (missing.status_code, missing.content)
    refused["body changed after signing"] = (tampered.status_code, tampered.content)
    return refused


def test_bad_signatures_stale_or_replayed_events_are_refused_alike_and_start_nothing(
    server: StatusServer, trigger: RecordingTrigger
) -> None:
    refused = _refusals(server)

    assert trigger.requests == 1  # the first delivery of evt_first only
    assert {status for status, _ in refused.values()} == {400}, refused
    # One answer for every failure: nothing says which part was wrong.
    assert len({body for _, body in refused.values()}) == 1


def test_the_secret_and_the_body_never_appear_in_logs_or_answers(
    server: StatusServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        accepted = send_webhook(_url(server), _event(id="evt_logged"), SECRET)
        refused = _refusals(server)

    answers = [accepted.body, *(body for _, body in refused.values())]
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    # It does log, with the event id.
    assert "refused" in logged
    assert "evt_logged" in logged
    for text in (logged, *(a.decode() for a in answers)):
        assert SECRET not in text
        assert "whsec_rolled_out_old" not in text
        assert "in_00000000000001" not in text  # from the body


def _raw_post(server: StatusServer, headers: list[str], body: bytes) -> bytes:
    """Send a request by hand and read the answer; the body may be only the start of it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        head = ["POST /webhooks/stripe HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
        connection.sendall("\r\n".join(head).encode() + body)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def test_a_huge_body_is_refused_without_being_read(
    server: StatusServer, trigger: RecordingTrigger
) -> None:
    announced = 64 * 1024 * 1024
    # Only the first kilobyte is ever sent: the answer comes without waiting for the rest.
    answer = _raw_post(server, [f"Content-Length: {announced}"], b"{" + b" " * 1023)

    assert answer.startswith(b"HTTP/1.0 413") or answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert b"connection: close" in answer.lower()  # header names are case-insensitive
    assert trigger.requests == 0


def test_a_body_of_no_stated_length_is_refused(
    server: StatusServer, trigger: RecordingTrigger
) -> None:
    answer = _raw_post(server, ["Transfer-Encoding: chunked"], b"5\r\nhello\r\n0\r\n\r\n")

    assert b" 411 " in answer.split(b"\r\n", 1)[0]
    assert trigger.requests == 0


def test_other_posts_are_unknown_and_the_webhook_path_too_without_secrets(
    database_url: str, server: StatusServer
) -> None:
    assert requests.post(f"http://127.0.0.1:{server.port}/metrics", timeout=10).status_code == 404
    store = Store(database_url)
    plain = StatusServer("127.0.0.1", 0, store, ServeMetrics(store)).start()
    try:
        answer = send_webhook(f"http://127.0.0.1:{plain.port}/webhooks/stripe", EVENT, SECRET)
        assert answer.status == 404
        assert requests.get(f"http://127.0.0.1:{plain.port}/healthz", timeout=10).ok
    finally:
        plain.stop()
        store.close()


@pytest.mark.parametrize("length", ["²", "9" * 5000, "-1", ""])
def test_a_content_length_that_is_no_plain_number_is_refused(
    server: StatusServer, trigger: RecordingTrigger, length: str
) -> None:
    answer = _raw_post(server, [f"Content-Length: {length}"], b"{}")

    # The HTTP layer (h11) refuses a malformed length as a bad request before any route runs;
    # a missing length is the endpoint's 411.
    status_line = answer.split(b"\r\n", 1)[0]
    assert b" 400 " in status_line or b" 411 " in status_line, answer[:80]
    assert trigger.requests == 0
