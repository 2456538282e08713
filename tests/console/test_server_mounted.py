"""The console mounted beside serve's endpoints: each request reaches its own side.

Stripe's webhooks stay the service's (no console login or CSRF token stands in their way),
``/healthz`` answers without a session, and every other path is the console's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from fastapi import FastAPI
from pydantic import SecretStr

from sandboxes.billing.stripe.events import send_webhook
from sync.service.health import StatusServer
from sync.service.metrics import ServeMetrics
from sync.service.webhooks import StripeSignatureVerifier, StripeWebhookEndpoint
from sync.store import Store

SECRET = "whsec_console_mounted_5e1"
EVENT = {"id": "evt_0000000000mounted", "object": "event", "type": "invoice.paid"}


class CountingTrigger:
    """Counts run requests instead of running flows."""

    def __init__(self) -> None:
        self.requests = 0

    def request(self) -> None:
        self.requests += 1


@pytest.fixture
def trigger() -> CountingTrigger:
    return CountingTrigger()


@pytest.fixture
def base_url(store: Store, console_app: FastAPI, trigger: CountingTrigger) -> Iterator[str]:
    endpoint = StripeWebhookEndpoint(StripeSignatureVerifier([SecretStr(SECRET)], 300), trigger)
    server = StatusServer(
        "127.0.0.1", 0, store, ServeMetrics(store), webhooks=endpoint, mounted=console_app
    ).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def test_a_signed_webhook_reaches_the_service_past_the_console(
    base_url: str, trigger: CountingTrigger
) -> None:
    answer = send_webhook(f"{base_url}/webhooks/stripe", EVENT, SECRET)

    assert (answer.status, trigger.requests) == (200, 1)


def test_the_probes_answer_without_a_session_and_the_rest_is_the_consoles(
    base_url: str,
) -> None:
    health = requests.get(f"{base_url}/healthz", timeout=10)
    ready = requests.get(f"{base_url}/readyz", timeout=10)
    overview = requests.get(f"{base_url}/", timeout=10, allow_redirects=False)
    api = requests.get(f"{base_url}/api/overview", timeout=10)

    assert (health.status_code, ready.status_code) == (200, 200)
    assert (overview.status_code, overview.headers["location"]) == (303, "/login?next=%2F")
    assert api.status_code == 401
