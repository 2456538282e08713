"""Wrong billing or ERP credentials fail a run at its start, even when Salesforce has nothing
new: each target's login is checked once, counted in the run's API calls (issue 15); over the
real wire, both databases, and through the CLI with its exit code."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from mappings.loader import load_mapping_set
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.schema import RunStatus
from tests.cli_process import ROOT, revbridge

SIZE = SandboxSize(accounts=3, orders=2, products=2, invalid_records=False, page_size=200)
WRONG = "wrong-secret-\x1b[31m<b>"  # hostile too: it must show nowhere


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as started:
        yield started


def _run(
    sandboxes: Sandboxes, database_url: str, *, billing_key: str = "", erp_secret: str = ""
) -> RunSummary:
    settings = sandboxes.settings(database_url)
    if billing_key:
        billing = settings.billing.model_copy(update={"api_key": SecretStr(billing_key)})
        settings = settings.model_copy(update={"billing": billing})
    if erp_secret:
        erp = settings.erp.model_copy(update={"token_secret": SecretStr(erp_secret)})
        settings = settings.model_copy(update={"erp": erp})
    store = Store(database_url)
    try:
        with open_connectors(settings) as connectors:
            return SyncEngine(store, load_mapping_set(), connectors, QUOTE_TO_CASH).run()
    finally:
        store.close()


def test_a_run_with_nothing_new_checks_each_targets_login_once_counted_in_its_api_calls(
    sandboxes: Sandboxes, database_url: str
) -> None:
    first = _run(sandboxes, database_url)
    assert first.status is RunStatus.SUCCEEDED, first.message
    billing_calls, erp_calls = sandboxes.billing.calls, sandboxes.erp.calls

    again = _run(sandboxes, database_url)

    assert again.status is RunStatus.SUCCEEDED, again.message
    assert again.written == 0
    assert sandboxes.billing.calls - billing_calls == again.api_calls["billing"] >= 1
    assert sandboxes.erp.calls - erp_calls == again.api_calls["erp"] == 1, "one getServerTime"
    assert sandboxes.erp.operations["getServerTime"] == 2, "once a run"


@pytest.mark.parametrize("system", ["billing", "erp"])
def test_wrong_target_credentials_fail_a_run_that_has_nothing_new_to_write(
    sandboxes: Sandboxes, database_url: str, system: str
) -> None:
    first = _run(sandboxes, database_url)
    assert first.status is RunStatus.SUCCEEDED, first.message
    wrong = {"billing_key": WRONG} if system == "billing" else {"erp_secret": WRONG}

    failed = _run(sandboxes, database_url, **wrong)

    assert failed.status is RunStatus.FAILED
    assert failed.message is not None
    assert failed.message.startswith("AuthError: "), failed.message
    assert f"[{system}]" in failed.message
    assert "\n" not in failed.message
    assert WRONG not in failed.message
    assert failed.api_calls[system] >= 1


def test_the_cli_says_so_in_one_line_and_exits_1(
    sandboxes: Sandboxes, database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "revbridge.yaml"
    document = sandboxes.settings_document(database_url)
    write_sandbox_config(config, document)
    assert _cli(config).returncode == 0
    document["billing"]["api_key"] = WRONG
    write_sandbox_config(config, document)

    completed = _cli(config)

    assert completed.returncode == 1, completed.stderr
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output
    assert WRONG not in output
    [said] = [line for line in output.splitlines() if "[billing]" in line]
    assert "AuthError" in said or "login" in said


def _cli(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        revbridge("run", "--config", str(config), "--json"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
