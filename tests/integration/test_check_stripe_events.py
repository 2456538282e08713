"""`revbridge check` with the Stripe profile probes ``GET /v1/events`` besides search.

The billing reads (the receivables flow) learn of invoices paid, voided or refunded from
Stripe's events. A restricted key without the Events read permission passes every other probe,
so ``check`` reports it as a row of its own, with what to do, against the Stripe sandbox
switched to refuse events with 403 as Stripe refuses such a key.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from config.redaction import Redactor
from config.settings import BillingSettings, FlowSettings, Settings
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.tools.system_check import CheckStatus, check_connections
from tests.cli_process import cli_env, revbridge

SIZE = SandboxSize(accounts=2, orders=4, products=2, invalid_records=False, page_size=200)
RECEIVABLES = {"name": "receivables", "source": "billing", "targets": ["erp", "salesforce"]}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        yield running


@pytest.fixture
def billing_events_on(sandboxes: Sandboxes) -> Iterator[Sandboxes]:
    sandboxes.billing.set_stripe_events(enabled=True)
    yield sandboxes
    sandboxes.billing.set_stripe_events(enabled=True)


def _stripe_document(
    sandboxes: Sandboxes, tmp_path: Path, *, reads_billing: bool
) -> dict[str, Any]:
    document = sandboxes.settings_document(f"sqlite:///{tmp_path / 'state.db'}")
    billing = sandboxes.billing
    document["billing"] = {"profile": "stripe", "base_url": billing.stripe_url,
                           "api_key": billing.api_key, "auth": "basic"}  # fmt: skip
    quote_to_cash = {"name": "quote-to-cash", "source": "salesforce", "targets": ["billing", "erp"]}
    document["flows"] = [quote_to_cash, *([RECEIVABLES] if reads_billing else [])]
    return document


def _settings(document: dict[str, Any]) -> Settings:
    billing = {**document["billing"], "api_key": SecretStr(document["billing"]["api_key"])}
    return Settings.model_validate(
        {**document, "billing": BillingSettings(**billing),
         "flows": [FlowSettings(**flow) for flow in document["flows"]]}
    )  # fmt: skip


def _rows(sandboxes: Sandboxes, tmp_path: Path, *, reads_billing: bool) -> dict[str, Any]:
    settings = _settings(_stripe_document(sandboxes, tmp_path, reads_billing=reads_billing))
    return {row.name: row for row in check_connections(settings, Redactor())}


def test_check_says_the_key_may_read_events(billing_events_on: Sandboxes, tmp_path: Path) -> None:
    rows = _rows(billing_events_on, tmp_path, reads_billing=True)

    assert rows["billing events"].status is CheckStatus.OK
    assert "/v1/events readable" in rows["billing events"].detail
    requests = billing_events_on.billing.stripe_requests
    assert any(r.method == "GET" and r.path == "/v1/events" for r in requests)


def test_a_key_without_events_access_fails_check_with_what_to_do_and_exit_3(
    billing_events_on: Sandboxes, tmp_path: Path
) -> None:
    billing_events_on.billing.set_stripe_events(enabled=False)
    config = tmp_path / "revbridge.yaml"
    write_sandbox_config(config, _stripe_document(billing_events_on, tmp_path, reads_billing=True))

    env = {name: value for name, value in cli_env().items() if name != "COLUMNS"}  # a pipe
    outcome = subprocess.run(
        revbridge("check", "-c", str(config)), env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert outcome.returncode == 3, outcome.stdout + outcome.stderr
    assert "Traceback" not in outcome.stderr
    events_line = next(line for line in outcome.stdout.splitlines() if "billing events" in line)
    assert "may not read events" in events_line
    assert "Events: Read" in outcome.stdout
    last = outcome.stderr.strip().splitlines()[-1]
    assert last.startswith("error: billing events: GET /v1/events refused")
    assert last.endswith("next: change the key's permissions, then run `revbridge check` again")
    # Every other probe passed: billing itself and its lookup are fine with this key.
    billing_line = next(line for line in outcome.stdout.splitlines() if "authenticated at" in line)
    assert "ok" in billing_line
    assert billing_events_on.billing.api_key not in outcome.stdout + outcome.stderr


def test_without_a_flow_reading_billing_no_events_access_is_only_a_warning(
    billing_events_on: Sandboxes, tmp_path: Path
) -> None:
    billing_events_on.billing.set_stripe_events(enabled=False)

    rows = _rows(billing_events_on, tmp_path, reads_billing=False)

    assert rows["billing events"].status is CheckStatus.WARNING
    assert "no flow reads billing yet" in rows["billing events"].detail
    assert rows["billing events"].exit_code == 0


def test_the_generic_profile_has_no_events_row(sandboxes: Sandboxes, tmp_path: Path) -> None:
    settings = sandboxes.settings(f"sqlite:///{tmp_path / 'state.db'}")

    rows = {row.name: row for row in check_connections(settings, Redactor())}

    assert rows["billing"].status is CheckStatus.OK
    assert "billing events" not in rows
