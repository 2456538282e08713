"""A real `revbridge serve` takes a signed Stripe webhook and runs the flow that reads billing.

Quote-to-cash fills the Stripe sandbox, every customer is billed, and `serve` (a subprocess,
the Stripe profile, ``billing.webhook_secrets`` set) runs ``receivables`` once at start. An
invoice is then paid in Stripe and the sandbox posts the ``invoice.paid`` event to serve's
port: the run it starts brings the invoice to Salesforce paid, at balance 0. A delivery with a
wrong signature starts nothing, and the secret appears nowhere in serve's output.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.cli.sandboxes import Sandboxes
from sync.engine.flows import QUOTE_TO_CASH
from tests.integration.test_stripe_events import _status_and_balance, _total
from tests.integration.test_stripe_inbound import (
    SIZE,
    _bill_every_customer,
    _make_every_other_line_one_time,
    mappings_dir,
)
from tests.integration.test_stripe_salesforce_billing import BilledHarness
from tests.serve_harness import NEVER, ServeProcess, write_serve_config

__all__ = ["mappings_dir"]  # the fixture, shared with test_stripe_inbound
pytestmark = pytest.mark.slow
SECRET = "whsec_serve_e2e_5d1b3c9f"


@pytest.fixture
def billed(database_url: str, mappings_dir: Path) -> Iterator[tuple[BilledHarness, Sandboxes]]:
    with Sandboxes(SIZE) as sandboxes:
        _make_every_other_line_one_time(sandboxes)
        harness = BilledHarness(sandboxes, database_url, mappings_dir)
        assert harness.run(QUOTE_TO_CASH).rejected == 0
        harness.invoices = _bill_every_customer(harness.billing)
        yield harness, sandboxes
        harness.store.close()


@pytest.fixture
def serve(
    billed: tuple[BilledHarness, Sandboxes], tmp_path: Path, database_url: str, mappings_dir: Path
) -> Iterator[ServeProcess]:
    harness, sandboxes = billed
    billing = {
        "base_url": harness.billing.stripe_url,
        "api_key": harness.billing.api_key,
        "profile": "stripe",
        "auth": "basic",
        "webhook_secrets": [SECRET],
    }
    flow = {"name": "receivables", "source": "billing", "targets": ["erp", "salesforce"]}
    config = write_serve_config(
        tmp_path / "revbridge.yaml",
        sandboxes,
        database_url,
        billing=billing,
        mappings_dir=str(mappings_dir),
        flows=[{**flow, "schedule": NEVER}],
    )
    process = ServeProcess(config)
    try:
        yield process
    finally:
        process.close()


def _runs_done(serve: ServeProcess, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while len(serve.finished_runs()) < count:
        assert time.monotonic() < deadline, "".join(serve.raw[-30:])
        time.sleep(0.1)


def test_a_signed_webhook_runs_receivables_and_the_paid_invoice_reaches_salesforce(
    billed: tuple[BilledHarness, Sandboxes], serve: ServeProcess
) -> None:
    harness, _ = billed
    url = f"http://127.0.0.1:{serve.port()}/webhooks/stripe"
    _runs_done(serve, 1)  # --run-now: the open invoices land
    paid = harness.invoices[0]
    assert _status_and_balance(harness, paid["id"]) == ("Posted", _total(paid))

    harness.billing.pay_invoice(paid["id"])
    event = next(e for e in harness.billing.stripe_events() if e["type"] == "invoice.paid")
    forged = harness.billing.send_webhook(url, event, "whsec_forged")
    accepted = harness.billing.send_webhook(url, event, SECRET)

    assert (forged.status, accepted.status) == (400, 200)
    _runs_done(serve, 2)
    run = serve.finished_runs()[1]
    assert (run["flow"], run["status"]) == ("receivables", "succeeded")
    assert _status_and_balance(harness, paid["id"]) == ("Posted", 0.0)
    time.sleep(2)
    assert len(serve.finished_runs()) == 2  # the forged delivery started nothing
    assert serve.terminate() == 0
    output = "".join(serve.raw)
    assert "webhook" in output
    assert SECRET not in output
