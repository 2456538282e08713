"""A loopback billing REST API for tests, the demo and benchmarks: two wire formats, one store.

- the generic JSON API at ``/v1`` (:mod:`sandboxes.billing.generic`): upserts by
  external id, keyset-paged lists; what the shipped generic profile describes;
- a Stripe-compatible API at ``/stripe/v1`` (:mod:`sandboxes.billing.stripe.api`): form
  bodies, Stripe's error object, idempotency replay, cursor lists, metadata search (which can
  be switched off or made to lag: :meth:`BillingSandbox.set_stripe_search`), events for every
  change of an invoice, payment or credit note (``GET /v1/events``), and signed webhooks
  (:meth:`BillingSandbox.send_webhook`);
- ``POST /oauth/token``: OAuth 2.0 client credentials, besides API keys as bearer or basic.

Faults (:mod:`sandboxes.billing.faults`) apply to all of them: scripted, every n-th or
at a random rate; latency; 5xx and 429 answers; and responses dropped after the request was
committed.
"""

from __future__ import annotations

import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from sandboxes.billing.faults import Fault
from sandboxes.billing.generic import BillingState, Reply
from sandboxes.billing.rules import ApiError
from sandboxes.billing.stripe.api import StripeRequest
from sandboxes.billing.stripe.events import WebhookAnswer, send_webhook
from sandboxes.server import LoopbackServer, SandboxRequestHandler

__all__ = ["ApiError", "BillingSandbox", "BillingState", "Reply"]


class _BillingHandler(SandboxRequestHandler):
    def _serve(self) -> None:
        body = self.read_body()
        latency = self.state.faults.latency_seconds
        if latency:
            # Slow answers, outside the state lock so concurrent clients overlap like in life.
            time.sleep(latency)
        reply = self.state.handle(self.command, self.path, self.headers, body)
        if reply is None:
            self.close_connection = True
            return
        if reply.delay_seconds:
            # A slow answer to a request already committed, outside the state lock.
            time.sleep(reply.delay_seconds)
        self.send_json(reply.status, reply.body, dict(reply.headers))

    def do_GET(self) -> None:
        """Read one resource or a list."""
        self._serve()

    def do_PUT(self) -> None:
        """Upsert one resource by external id."""
        self._serve()

    def do_POST(self) -> None:
        """Create or update a Stripe object; issue an OAuth token."""
        self._serve()

    def do_DELETE(self) -> None:
        """Delete a resource by external id, or a Stripe object."""
        self._serve()


class BillingSandbox:
    """The billing REST sandbox on a loopback port: ``with BillingSandbox() as billing: ...``."""

    def __init__(
        self,
        api_key: str = "sk_test_revbridge_sandbox",
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._state = BillingState(api_key)
        self._server = LoopbackServer(_BillingHandler, self._state, ssl_context=ssl_context)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:51234`` (``https`` with a context; paths: ``/v1``)."""
        return self._server.url

    @property
    def server(self) -> LoopbackServer:
        """The HTTP server, for request gates in fault tests."""
        return self._server

    @property
    def stripe_url(self) -> str:
        """Base URL of the Stripe-compatible API (paths below it: ``/v1``)."""
        return self._server.url + "/stripe"

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint (client credentials grant)."""
        return self._server.url + "/oauth/token"

    @property
    def api_key(self) -> str:
        """The one key the sandbox accepts as ``Bearer <key>`` or as basic-auth user name."""
        return self._state.api_key

    @property
    def client_id(self) -> str:
        """The OAuth client id the token endpoint accepts."""
        return self._state.credentials.client_id

    @property
    def client_secret(self) -> str:
        """The OAuth client secret the token endpoint accepts."""
        return self._state.credentials.client_secret

    @property
    def tokens_issued(self) -> int:
        """OAuth tokens issued so far."""
        with self._state.lock:
            return self._state.credentials.tokens_issued

    def set_token_clock(self, clock: Callable[[], float], lifetime: float = 3600.0) -> None:
        """Replace the clock that expires OAuth tokens, and their lifetime in seconds."""
        with self._state.lock:
            self._state.credentials.clock = clock
            self._state.credentials.token_lifetime = lifetime

    def expire_tokens(self) -> None:
        """Revoke every OAuth token issued so far."""
        with self._state.lock:
            self._state.credentials.expire_tokens()

    @property
    def stripe_requests(self) -> list[StripeRequest]:
        """Every request the Stripe-compatible API received, in order."""
        with self._state.lock:
            return list(self._state.stripe.requests)

    @property
    def stripe_writes(self) -> Counter[tuple[str, str]]:
        """Counts of Stripe ``(collection, "created" | "updated" | "deleted" | "canceled")``."""
        with self._state.lock:
            return Counter(self._state.stripe.writes)

    def stripe_objects(self, collection: str) -> list[dict[str, Any]]:
        """Copies of the stored Stripe objects of ``collection``, oldest first."""
        with self._state.lock:
            rows = self._state.stripe.rows[collection].values()
            return [dict(row) for row in sorted(rows, key=lambda r: (r["created"], r["id"]))]

    def set_stripe_search(self, *, enabled: bool = True, lag_seconds: float = 0.0) -> None:
        """Switch Stripe's Search API off (``/v1/*/search`` answers 404, as Stripe-compatible
        servers without it do), or make it lag: new objects show in search results only
        ``lag_seconds`` after they were created, as Stripe documents for its search."""
        with self._state.lock:
            self._state.stripe.search_enabled = enabled
            self._state.stripe.search_lag_seconds = lag_seconds

    def set_stripe_events(self, *, enabled: bool = True) -> None:
        """Refuse ``/v1/events`` with 403 (``enabled=False``), as Stripe refuses a restricted
        key without the Events read permission; everything else still answers."""
        with self._state.lock:
            self._state.stripe.events_enabled = enabled

    def bill_pending_items(self, customer_id: str) -> dict[str, Any]:
        """Invoice the customer's pending invoice items, as Stripe's billing run would."""
        with self._state.lock:
            return dict(self._state.stripe.receivables.bill_pending_items(customer_id))

    def pay_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Pay an open invoice in full with a card charge; returns the charge."""
        with self._state.lock:
            return dict(self._state.stripe.receivables.pay_invoice(invoice_id))

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Void an open or uncollectible invoice."""
        with self._state.lock:
            return dict(self._state.stripe.receivables.void_invoice(invoice_id))

    def mark_uncollectible(self, invoice_id: str) -> dict[str, Any]:
        """Mark an open invoice uncollectible."""
        with self._state.lock:
            return dict(self._state.stripe.receivables.mark_uncollectible(invoice_id))

    def refund_charge(self, charge_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund ``amount`` minor units of a charge (all of what is left if None)."""
        with self._state.lock:
            return dict(self._state.stripe.receivables.refund_charge(charge_id, amount))

    def credit_invoice(self, invoice_id: str, amount: int, reason: str = "") -> dict[str, Any]:
        """Issue a credit note of ``amount`` minor units against an invoice."""
        with self._state.lock:
            return dict(self._state.stripe.receivables.credit_invoice(invoice_id, amount, reason))

    def void_credit_note(self, note_id: str) -> dict[str, Any]:
        """Void an issued credit note."""
        with self._state.lock:
            return dict(self._state.stripe.receivables.void_credit_note(note_id))

    def stripe_events(self) -> list[dict[str, Any]]:
        """Copies of every Stripe event, oldest first."""
        return self.stripe_objects("events")

    def resend_stripe_event(self, event_id: str) -> dict[str, Any]:
        """Emit an old event again under a new id, with its old snapshot (late, out of order)."""
        with self._state.lock:
            return dict(self._state.stripe.receivables.resend_event(event_id))

    def purge_stripe_events(self) -> None:
        """Forget every event, as Stripe does with events over 30 days old."""
        with self._state.lock:
            self._state.stripe.rows["events"].clear()

    def send_webhook(
        self,
        url: str,
        event: Mapping[str, Any],
        secret: str | Sequence[str],
        *,
        timestamp: int | None = None,
    ) -> WebhookAnswer:
        """POST ``event`` to ``url`` as a Stripe webhook, signed with ``secret`` (a list: one
        ``v1`` signature per secret) at ``timestamp`` (now if None)."""
        return send_webhook(url, event, secret, timestamp=timestamp)

    @property
    def calls(self) -> int:
        """HTTP requests received so far, faults and drops included."""
        return self._state.calls

    @property
    def writes(self) -> Counter[tuple[str, str]]:
        """Counts of ``(collection, "created" | "updated" | "unchanged" | "deleted")``."""
        with self._state.lock:
            return Counter(self._state.writes)

    def resources(self, collection: str) -> list[dict[str, Any]]:
        """The stored resources of ``collection``, ordered by ``(updated, id)``."""
        with self._state.lock:
            return self._state.resources(collection)

    def reset(self) -> None:
        """Back to empty, as if just started (lets tests share one server)."""
        with self._state.lock:
            self._state.reset()

    def seed(self, collection: str, bodies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Upsert bodies without HTTP (each needs ``external_id``); returns the stored resources."""
        with self._state.lock:
            replies = [
                self._state.upsert(collection, str(b["external_id"]), dict(b)) for b in bodies
            ]
        return [dict(reply.body) for reply in replies]

    def clear_faults(self) -> None:
        """Stop injecting faults (scripted, by rate, latency)."""
        with self._state.lock:
            self._state.faults.reset()

    def inject_fault(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        *,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (e.g. 429 + Retry-After, 503)."""
        fault = Fault(status, dict(headers or {}), body)
        with self._state.lock:
            self._state.faults.scripted.extend(fault for _ in range(times))

    def inject_fault_on(
        self,
        method: str,
        path_prefix: str,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        *,
        delay_seconds: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests of ``method`` on a path starting with
        ``path_prefix`` with ``status`` (None: process, commit, then drop the answer, or send it
        ``delay_seconds`` late); other requests pass meanwhile."""
        target = (method, path_prefix)
        fault = Fault(status, dict(headers or {}), None, target, delay_seconds)
        with self._state.lock:
            self._state.faults.scripted.extend(fault for _ in range(times))

    def inject_disconnect(self, times: int = 1) -> None:
        """Process the next ``times`` requests, then close the connection without answering."""
        with self._state.lock:
            self._state.faults.scripted.extend(Fault(None) for _ in range(times))

    def refuse(self, external_id: str, reason: str) -> None:
        """Refuse every upsert of ``external_id`` with ``reason`` (a per-record rejection)."""
        with self._state.lock:
            self._state.refused[external_id] = reason

    def drop_every(self, nth: int) -> None:
        """From now on, commit every ``nth`` request, then drop its response (0: stop)."""
        with self._state.lock:
            self._state.faults.drop_every = nth

    def inject_rate(
        self,
        rate: float,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        *,
        seed: int = 0,
    ) -> None:
        """Fail a ``rate`` share of requests with ``status`` (None: commit, then drop)."""
        with self._state.lock:
            self._state.faults.set_rate(rate, Fault(status, dict(headers or {})), seed)

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds``."""
        with self._state.lock:
            self._state.faults.latency_seconds = seconds

    def start(self) -> BillingSandbox:
        """Start serving; returns self."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> BillingSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
