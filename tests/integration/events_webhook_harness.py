"""A loopback webhook endpoint whose answers a test scripts, and outbox events to send it.

Every request is recorded as it arrived (headers, raw body); ``answer`` decides the reply:
an HTTP status with headers, ``DROP`` (read the request, close without a reply: a lost reply
after a write) or ``HANG`` (answer nothing until the test ends: a timeout).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa

from sync.store import Store
from sync.store.outbox import outbox_events
from sync.store.schema import utc_now

DROP, HANG = "drop", "hang"
Reply = tuple[int, dict[str, str]] | str
SECRET = "whsec_" + "cmV2YnJpZGdlLXRlc3Qtc2lnbmluZy1rZXktMDAwMQ=="  # 32 bytes, tests only
OTHER_SECRET = "whsec_" + "b3RoZXItcmV2YnJpZGdlLXRlc3Qta2V5LTAwMDAwMDA="


@dataclass(frozen=True)
class Delivery:
    """One request as the endpoint received it."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Endpoint:
    """What the endpoint received, and how it answers."""

    answer: Callable[[Delivery], Reply] = lambda _: (204, {})
    deliveries: list[Delivery] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def ids(self) -> list[str]:
        """``webhook-id`` of every delivery, repeats included, in arrival order."""
        return [delivery.headers["webhook-id"] for delivery in self.deliveries]


def _handler(endpoint: Endpoint, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            delivery = Delivery({k.lower(): v for k, v in self.headers.items()}, body)
            with lock:  # answers in arrival order, so a seeded script replays exactly
                endpoint.deliveries.append(delivery)
                reply = endpoint.answer(delivery)
            if reply == HANG:
                endpoint.released.wait(30)
                self.close_connection = True
                return
            if reply == DROP:
                self.close_connection = True
                return
            assert not isinstance(reply, str)
            status, headers = reply
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def endpoint(answer: Callable[[Delivery], Reply] | None = None) -> Iterator[Endpoint]:
    """A running endpoint on 127.0.0.1, stopped (and hung requests released) after."""
    state = Endpoint() if answer is None else Endpoint(answer=answer)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, threading.Lock()))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/revbridge?token=t0k3n"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def write_events(store: Store, records: list[dict[str, Any]], entity: str = "order") -> list[str]:
    """One ``created`` event per record (subject: its ``id``), in order; their event ids."""
    rows: list[dict[str, Any]] = [
        {
            "event_id": str(uuid.uuid4()),
            "flow": "quote-to-cash",
            "entity": entity,
            "change": "created",
            "subject": str(record["id"]),
            "run_id": None,
            "occurred_at": utc_now(),
            "data": {"record": record, "changes": {}, "ids": {"salesforce": str(record["id"])}},
        }
        for record in records
    ]
    with store.transaction() as connection:
        connection.execute(sa.insert(outbox_events), rows)
    return [row["event_id"] for row in rows]


def webhook_sink(url: str, **overrides: Any) -> dict[str, Any]:
    """Settings of a webhook sink with test-sized waits."""
    settings: dict[str, Any] = {
        "name": "hooks",
        "type": "webhook",
        "url": url,
        "secrets": [SECRET],
        "attempts": 4,
        "backoff_seconds": 0.001,
        "max_wait_seconds": 0.05,
        "timeout_seconds": 2,
    }
    return {**settings, **overrides}
