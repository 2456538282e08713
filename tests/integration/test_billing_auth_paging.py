"""Billing auth (API key as bearer or basic, OAuth client credentials) and paging styles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import BillingSettings, RetrySettings
from connectors.base import ReadSpec, WriteSpec
from connectors.billing.connector import BillingConnector
from connectors.errors import AuthError
from sandboxes.billing.sandbox import BillingSandbox

CUSTOMERS = WriteSpec("customers", "external_id")


class FakeClock:
    """A clock tests move by hand; shared by the connector and the sandbox's token expiry."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    """One sandbox for the module."""
    with BillingSandbox() as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    """The module's sandbox, emptied."""
    running_sandbox.reset()
    return running_sandbox


def _oauth(sandbox: BillingSandbox, **overrides: Any) -> BillingSettings:
    options: dict[str, Any] = {
        "base_url": sandbox.url,
        "auth": "oauth_client_credentials",
        "token_url": sandbox.token_url,
        "client_id": sandbox.client_id,
        "client_secret": SecretStr(sandbox.client_secret),
        **overrides,
    }
    return BillingSettings(**options)


def _customer(external_id: str) -> dict[str, Any]:
    return {"external_id": external_id, "name": "Acme", "currency": "USD"}


def test_oauth_token_is_fetched_once_and_refreshed_before_it_expires(
    sandbox: BillingSandbox,
) -> None:
    clock = FakeClock()
    sandbox.set_token_clock(clock, lifetime=600)
    connector = BillingConnector(_oauth(sandbox), RetrySettings(), clock=clock)
    connector.write(CUSTOMERS, [_customer("acc-1"), _customer("acc-2")])
    assert sandbox.tokens_issued == 1
    clock.now += 600 - 59  # inside the 60 s refresh margin, still valid at the sandbox
    connector.write(CUSTOMERS, [_customer("acc-3")])
    connector.close()
    assert sandbox.tokens_issued == 2
    assert len(sandbox.resources("customers")) == 3


def test_revoked_oauth_token_is_replaced_once_and_the_call_succeeds(
    sandbox: BillingSandbox,
) -> None:
    connector = BillingConnector(_oauth(sandbox), RetrySettings(), wait=lambda _: None)
    connector.check()
    sandbox.expire_tokens()
    [result] = connector.write(CUSTOMERS, [_customer("acc-1")])
    connector.close()
    assert result.ok
    assert sandbox.tokens_issued == 2


def test_refused_client_secret_is_an_auth_error_that_never_shows_the_secret(
    sandbox: BillingSandbox,
) -> None:
    marker = "cs_MARKER_never_in_messages"
    settings = _oauth(sandbox, client_secret=SecretStr(marker))
    connector = BillingConnector(settings, RetrySettings(), wait=lambda _: None)
    with pytest.raises(AuthError) as raised:
        connector.check()
    connector.close()
    assert marker not in str(raised.value)
    assert marker not in repr(settings)


def test_api_key_as_basic_auth_user_is_accepted(sandbox: BillingSandbox) -> None:
    settings = BillingSettings(
        base_url=sandbox.url, api_key=SecretStr(sandbox.api_key), auth="basic"
    )
    connector = BillingConnector(settings, RetrySettings())
    [result] = connector.write(CUSTOMERS, [_customer("acc-1")])
    connector.close()
    assert result.ok


PROFILE = """\
version: 1
name: paging-{style}
default:
  list_path: /v1/{{collection}}
  upsert: {{path: "/v1/{{collection}}/{{external_id}}"}}
  paging: {paging}
"""
STYLES = {
    "cursor": "{type: cursor, advance_filter: true}",
    "page_number": "{type: page_number, has_more_field: has_more}",
    "page_number_short_page": "{type: page_number}",
    "link_header": "{type: link_header}",
    "next_token": "{type: next_token}",
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_paging_style_reads_all_records_once_in_order(
    sandbox: BillingSandbox, tmp_path: Path, style: str
) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text(PROFILE.format(style=style, paging=STYLES[style]), encoding="utf-8")
    settings = BillingSettings(
        base_url=sandbox.url, api_key=SecretStr(sandbox.api_key), profile_file=profile, page_size=3
    )
    sandbox.seed("customers", [_customer(f"acc-{n:02d}") for n in range(10)])
    connector = BillingConnector(settings, RetrySettings())
    pages = list(connector.read(ReadSpec("customers", ("id",)), None))
    later = list(connector.read(ReadSpec("customers", ("id",)), pages[1].cursor))
    calls = connector.requests_sent
    connector.close()

    ids = [record["external_id"] for page in pages for record in page.records]
    assert ids == [f"acc-{n:02d}" for n in range(10)]
    assert [len(page.records) for page in pages] == [3, 3, 3, 1]
    assert [r["external_id"] for page in later for r in page.records] == ids[6:]
    assert calls <= 8  # 4 pages + 2 pages, plus at most one empty page per read
