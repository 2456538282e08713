"""Issue 14, item 1, over the real wire on both databases: one account whose name holds U+0000
and U+001B (set through the Salesforce sandbox's REST API) no longer stops quote-to-cash.

The account is queued with the field and the characters named; the rest of its page lands in
billing and the ERP and commits, the cursor moves past it, and a second run sends nothing
again. With ``illegal_characters: strip`` on the rule, the account lands without them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.base import Cursor
from mappings.identity import canonical_id
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import MappingSet
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.cursors import load_cursor
from sync.store.error_queue import ErrorRow, list_errors
from sync.store.schema import ErrorStatus, RunStatus
from tests.integration.cpq_harness import cpq_sandboxes, run_flow

SIZE = SandboxSize(accounts=5, orders=10, products=3, invalid_records=False, page_size=200)
API = "/services/data/v60.0"
HOSTILE = "Bad\x00Nul\x1bEsc"
REASON = (
    "account.name contains control character U+0000 at position 4, "
    "control character U+001B at position 8"
)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def _rename_through_rest(sandboxes: Sandboxes, account_id: str, name: str) -> None:
    """PATCH the account as an integration user would (the name travels JSON-escaped)."""
    salesforce = sandboxes.salesforce
    http = requests.Session()
    http.trust_env = False
    http.verify = str(salesforce.ca_bundle)
    credentials = salesforce.credentials
    token = http.post(
        f"{salesforce.url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "username": credentials.username,
            "password": credentials.password + credentials.security_token,
        },
    ).json()["access_token"]
    answer = http.patch(
        f"{salesforce.url}{API}/sobjects/Account/{account_id}",
        json={"Name": name},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 204, answer.text
    http.close()


def _accounts(sandboxes: Sandboxes) -> list[dict[str, object]]:
    return [r for r in sandboxes.salesforce.records("Account") if not r["IsDeleted"]]


def _landed(sandboxes: Sandboxes) -> tuple[dict[str, str], dict[str, str]]:
    """Customers by revbridge's id: their name in billing, and in the ERP."""
    billing = {r["external_id"]: r["name"] for r in sandboxes.billing.resources("customers")}
    erp = {
        external_id: record["companyName"]
        for (record_type, external_id), record in sandboxes.erp.records.items()
        if record_type == "Customer"
    }
    return billing, erp


def _open_errors(store: Store, entity: str) -> list[ErrorRow]:
    with store.engine.connect() as connection:
        return list_errors(connection, status=ErrorStatus.OPEN, entity=entity, limit=None)


def _run(sandboxes: Sandboxes, store: Store, mappings: MappingSet) -> RunSummary:
    return run_flow(sandboxes, store, mappings, QUOTE_TO_CASH, page_size=SIZE.page_size)


def _stripping_mappings(folder: Path) -> MappingSet:
    paths = []
    for path in shipped_mapping_files():
        text = path.read_text(encoding="utf-8")
        if path.name == "salesforce.yaml":
            rule = "      name: {path: Name}\n"
            assert rule in text, "the account's name rule moved; update this test"
            text = text.replace(rule, "      name: {path: Name, illegal_characters: strip}\n", 1)
        paths.append(folder / path.name)
        paths[-1].write_text(text, encoding="utf-8")
    return load_mapping_set(paths)


def test_one_account_with_control_characters_is_queued_and_the_rest_of_the_page_commits(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    accounts = _accounts(sandboxes)
    bad_id = str(accounts[0]["Id"])
    _rename_through_rest(sandboxes, bad_id, HOSTILE)

    summary = _run(sandboxes, store, mapping_set)

    assert summary.status is RunStatus.PARTIAL, summary.message
    queued = _open_errors(store, "account")
    assert [(e.source_id, e.stage, e.target_system) for e in queued] == [(bad_id, "map", "")]
    assert queued[0].message.startswith(REASON)
    assert queued[0].payload is not None
    assert queued[0].payload["Name"] == "Bad\ufffdNul\x1bEsc"  # the store can't keep U+0000
    billing, erp = _landed(sandboxes)
    others = {canonical_id("account", "salesforce", str(a["Id"])): a["Name"] for a in accounts[1:]}
    assert billing == others
    assert erp == others
    newest = max(_accounts(sandboxes), key=lambda a: (a["SystemModstamp"], a["Id"]))
    with store.engine.connect() as connection:
        cursor = load_cursor(connection, QUOTE_TO_CASH.name, "salesforce", "account")
    assert cursor == Cursor(str(newest["SystemModstamp"]), str(newest["Id"]))
    billing_writes = Counter(sandboxes.billing.writes)
    erp_upserts = sandboxes.erp.operations["upsertList"]

    again = _run(sandboxes, store, mapping_set)

    assert again.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), again.message
    assert Counter(sandboxes.billing.writes) == billing_writes
    assert sandboxes.erp.operations["upsertList"] == erp_upserts
    assert [e.source_id for e in _open_errors(store, "account")] == [bad_id]


def test_with_strip_on_the_rule_the_account_lands_without_the_characters(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet, tmp_path: Path
) -> None:
    bad_id = str(_accounts(sandboxes)[0]["Id"])
    _rename_through_rest(sandboxes, bad_id, HOSTILE)
    _run(sandboxes, store, mapping_set)
    assert [e.source_id for e in _open_errors(store, "account")] == [bad_id]

    summary = _run(sandboxes, store, _stripping_mappings(tmp_path))

    assert summary.status is RunStatus.SUCCEEDED, summary.message
    assert _open_errors(store, "account") == []
    billing, erp = _landed(sandboxes)
    key = canonical_id("account", "salesforce", bad_id)
    assert billing[key] == "BadNulEsc"
    assert erp[key] == "BadNulEsc"
    assert len(billing) == len(erp) == SIZE.accounts
    # The orders, quotes and contacts deferred for want of their account have landed too.
    assert _open_errors(store, "order") == []
