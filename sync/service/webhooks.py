"""``POST /webhooks/stripe`` on `serve`'s HTTP port: a verified Stripe event starts a run now.

Stripe signs each delivery: ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``,
the hex HMAC-SHA256 of ``"<t>.<raw body>"`` under the endpoint's signing secret
(``billing.webhook_secrets``; several while a secret is rolled, any of them verifies). A
delivery is accepted when one ``v1`` matches, ``t`` is within ``billing.webhook_tolerance_seconds``
of this host's clock, and neither its event id nor its signature was seen in that window
(replays are refused; past the window the timestamp refuses them). Every refusal is the same
``400`` whatever failed, so a caller learns nothing about which part was wrong; the log says
which, never with the secret, the header or the body. A body over :data:`MAX_BODY_BYTES` (or of
no stated length) is refused before any of it is read.

The event itself is not trusted for its content: it only says "billing changed". It starts the
flows that read billing (:class:`RunTrigger`), whose incremental read finds the object through
Stripe's events (:mod:`connectors.billing.stripe.changes`) and fetches it as it is now. A burst
of events starts one run, not one each. The ids seen are remembered per process: a replay sent
to another replica starts one more run there, which is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

from pydantic import SecretStr

from sync.service.flow_runner import Attempt

log = logging.getLogger("revbridge.serve")

STRIPE_WEBHOOK_PATH = "/webhooks/stripe"
# Stripe's events are a few kB; a megabyte is far beyond any of them.
MAX_BODY_BYTES = 1 << 20
_REMEMBERED = 10_000
_MAX_RETRY_SECONDS = 15.0
_REFUSED = {"error": "webhook refused: signature verification failed"}

Clock = Callable[[], float]


class WebhookRefused(Exception):
    """A delivery that is not accepted; the message is for the log only."""


@dataclass(frozen=True)
class WebhookReply:
    """What to answer: a status, a small JSON body, and whether to close the connection."""

    status: HTTPStatus
    body: Mapping[str, Any]
    close: bool = False


class StripeSignatureVerifier:
    """Checks ``Stripe-Signature`` against the body, the secrets, the clock and past deliveries."""

    def __init__(
        self, secrets: Sequence[SecretStr], tolerance_seconds: int, *, clock: Clock = time.time
    ) -> None:
        self._keys = [s.get_secret_value().encode() for s in secrets if s.get_secret_value()]
        self._tolerance = tolerance_seconds
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # event id or signature -> expiry
        self._lock = threading.Lock()

    def verify(self, header: str | None, body: bytes) -> dict[str, Any]:
        """The event a delivery carries; raises :class:`WebhookRefused` (reason for the log)."""
        timestamp, signatures = _parse_header(header)
        signed = timestamp.encode() + b"." + body
        expected = [hmac.new(key, signed, hashlib.sha256).hexdigest() for key in self._keys]
        if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
            raise WebhookRefused("no v1 signature matches a configured secret")
        now = self._clock()
        if abs(now - int(timestamp)) > self._tolerance:
            raise WebhookRefused(f"signed timestamp outside the {self._tolerance} s tolerance")
        event = _event(body)
        self._remember_once([f"event:{event['id']}", *(f"v1:{s}" for s in signatures)], now)
        return event

    def _remember_once(self, keys: list[str], now: float) -> None:
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            if any(key in self._seen for key in keys):
                raise WebhookRefused("event or signature already delivered (a replay)")
            # The timestamp may lie ahead by the tolerance: remember twice as long.
            for key in keys:
                self._seen[key] = now + 2 * self._tolerance
            while len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)


def _parse_header(header: str | None) -> tuple[str, list[str]]:
    if not header:
        raise WebhookRefused("no Stripe-Signature header")
    pairs = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in pairs if key == "t"]
    signatures = [value for key, _, value in pairs if key == "v1" and value]
    if len(stamps) != 1 or not _is_number(stamps[0]) or not signatures:
        raise WebhookRefused("Stripe-Signature needs one t= and at least one v1=")
    return stamps[0], signatures


def _event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookRefused("signed body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise WebhookRefused("signed body is not an event")
    return event


class Headers(Protocol):
    """Request headers, looked up case-insensitively (Starlette's ``Headers``)."""

    def get(self, name: str, /) -> str | None:
        """The header's value, or None."""


class Body(Protocol):
    """The request body stream."""

    def read(self, size: int, /) -> bytes:
        """Up to ``size`` bytes."""


class Trigger(Protocol):
    """Starts the flows that read billing soon."""

    def request(self) -> None:
        """Ask for a run."""


class StripeWebhookEndpoint:
    """Reads one delivery off the wire, verifies it and, if accepted, triggers the runs."""

    def __init__(
        self,
        verifier: StripeSignatureVerifier,
        trigger: Trigger,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._verifier = verifier
        self._trigger = trigger
        self._max_body = max_body_bytes

    @property
    def max_body_bytes(self) -> int:
        """The largest body this endpoint reads."""
        return self._max_body

    def receive(self, headers: Headers, body: Body) -> WebhookReply:
        """Answer one ``POST /webhooks/stripe``."""
        length = content_length(headers)
        if length is None:
            log.warning("Stripe webhook refused: no usable Content-Length")
            return WebhookReply(HTTPStatus.LENGTH_REQUIRED, {"error": "length required"}, True)
        if length > self._max_body:
            log.warning("Stripe webhook refused: body of %d bytes is over the limit", length)
            return WebhookReply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "too large"}, True)
        raw = body.read(length)
        try:
            event = self._verifier.verify(headers.get("Stripe-Signature"), raw)
        except WebhookRefused as refused:
            log.warning("Stripe webhook refused: %s", refused)
            return WebhookReply(HTTPStatus.BAD_REQUEST, _REFUSED)
        log.info(
            "Stripe webhook %s (%s) accepted: starting the flows that read billing",
            event["id"],
            str(event.get("type", "?")),
            extra={"stripe_event": event["id"]},
        )
        self._trigger.request()
        return WebhookReply(HTTPStatus.OK, {"received": True})


def content_length(headers: Headers) -> int | None:
    """The stated body length; None when there is none, or it is chunked or no plain number."""
    if headers.get("Transfer-Encoding"):
        return None
    raw = headers.get("Content-Length")
    return int(raw) if raw is not None and _is_number(raw.strip()) else None


def _is_number(text: str) -> bool:
    """Plain ASCII digits of a sane length (``int()`` takes "²" and 5,000 digits badly)."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


AttemptRun = Callable[[str], Attempt]


class RunTrigger:
    """Runs flows on request from one worker thread; requests during a run make one more run.

    A flow whose lease is held (its scheduled run is going on) is tried again after
    ``retry_seconds``, doubling up to :data:`_MAX_RETRY_SECONDS` while it stays held: that run
    may have read Stripe's events before this one arrived.
    """

    def __init__(self, flows: Sequence[str], *, retry_seconds: float = 1.0) -> None:
        self._flows = tuple(flows)
        self._retry = retry_seconds
        self._pending: set[str] = set()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Ask for a run of every flow that reads billing."""
        with self._wake:
            self._pending.update(self._flows)
            self._wake.notify()

    def start(self, run: AttemptRun) -> None:
        """Start the worker; ``run`` is the service's ``FlowRunner.run``."""
        self._thread = threading.Thread(
            target=self._work, args=(run,), name="webhook-runs", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Start no more runs; wait for the one in hand (asked to stop by the runner)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()

    def _work(self, run: AttemptRun) -> None:
        delay = self._retry
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                due, self._pending = self._pending, set()
            busy = {name for name in sorted(due) if _busy(run, name)}
            if not busy:
                delay = self._retry
                continue
            with self._wake:
                self._pending |= busy
                self._wake.wait(delay)
            delay = min(delay * 2, _MAX_RETRY_SECONDS)


def _busy(run: AttemptRun, name: str) -> bool:
    """Run the flow; True when its lease was held and it did not run."""
    try:
        return run(name).busy_until is not None
    except Exception:  # the runner reports run failures itself; keep the worker alive
        log.exception("flow %s could not be started for a Stripe webhook", name)
        return False
