"""Receive revbridge change events as Standard Webhooks (standard library only).

Run: ``REVBRIDGE_WEBHOOK_SECRET=whsec_... python webhook_receiver.py 8080``
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60  # refuse older (replayed) or future deliveries


class Refused(Exception):
    """The delivery is not from revbridge, or too old: answer 401, never process it."""


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> Any:
    """The event, once its signature and timestamp check out; else raise Refused."""
    webhook_id, sent = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not (webhook_id and sent.isdigit()):
        raise Refused("missing webhook-id or webhook-timestamp")
    if abs((time.time() if now is None else now) - int(sent)) > TOLERANCE_SECONDS:
        raise Refused("timestamp outside the tolerance")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{sent}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    # Two signatures while revbridge rotates its secret: one match is enough.
    if not any(
        hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split()
    ):
        raise Refused("no valid signature")
    return json.loads(body)


def make_server(
    secret: str, port: int, on_event: Callable[[str, Any], None]
) -> ThreadingHTTPServer:
    """An HTTP server on ``port`` calling ``on_event(webhook_id, event)`` per verified delivery."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                event = verify(secret, headers, body)
            except Refused:
                self.send_response(401)
            else:
                on_event(headers["webhook-id"], event)  # dedupe by this id: retries repeat it
                self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


if __name__ == "__main__":
    seen: set[str] = set()

    def show(webhook_id: str, event: Any) -> None:
        if webhook_id not in seen:
            seen.add(webhook_id)
            print(event["type"], event["subject"], flush=True)

    make_server(os.environ["REVBRIDGE_WEBHOOK_SECRET"], int(sys.argv[1]), show).serve_forever()
