"""Incremental reads from the billing sandbox: keyset paging, cursors, ties, changes mid-read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from config.settings import BillingSettings, RetrySettings
from connectors.base import Cursor, ReadSpec
from connectors.billing.connector import BillingConnector, JsonProfile
from connectors.errors import ConfigError
from sandboxes.billing.sandbox import BillingSandbox

CUSTOMERS = ReadSpec("customers", ("id", "external_id", "name", "updated"))


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    """One billing sandbox for the module (stopping one takes ~0.5 s)."""
    with BillingSandbox() as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    """The module's sandbox holding 250 customers, ``acc-000`` to ``acc-249`` in write order."""
    running_sandbox.reset()
    bodies = [
        {"external_id": f"acc-{n:03d}", "name": f"Customer {n}", "currency": "USD"}
        for n in range(250)
    ]
    running_sandbox.seed("customers", bodies)
    return running_sandbox


@pytest.fixture
def connector(sandbox: BillingSandbox) -> Iterator[BillingConnector]:
    """A connector reading 100 records a page."""
    settings = BillingSettings(base_url=sandbox.url, api_key=sandbox.api_key, page_size=100)
    billing = BillingConnector(settings, RetrySettings(), wait=lambda _: None)
    yield billing
    billing.close()


def _external_ids(records: list[dict[str, Any]]) -> list[str]:
    return [str(record["external_id"]) for record in records]


def test_read_pages_through_250_records_with_limit_100_exactly_once_each(
    connector: BillingConnector, sandbox: BillingSandbox
) -> None:
    pages = list(connector.read(CUSTOMERS, None))

    assert [len(page.records) for page in pages] == [100, 100, 50]
    read = [record for page in pages for record in page.records]
    assert _external_ids(read) == [f"acc-{n:03d}" for n in range(250)]
    assert sandbox.calls == 3
    last = read[-1]
    assert pages[-1].cursor == Cursor(modified=last["updated"], record_id=last["id"])


def test_each_page_cursor_is_its_last_record(connector: BillingConnector) -> None:
    for page in connector.read(CUSTOMERS, None):
        last = page.records[-1]
        assert page.cursor == Cursor(last["updated"], last["id"])


def test_read_from_a_cursor_returns_only_records_strictly_after_it(
    connector: BillingConnector,
) -> None:
    first_page = next(iter(connector.read(CUSTOMERS, None)))
    assert first_page.cursor is not None

    rest = [r for page in connector.read(CUSTOMERS, first_page.cursor) for r in page.records]

    assert _external_ids(rest) == [f"acc-{n:03d}" for n in range(100, 250)]


def test_read_from_the_final_cursor_yields_nothing(connector: BillingConnector) -> None:
    *_, last_page = connector.read(CUSTOMERS, None)
    assert list(connector.read(CUSTOMERS, last_page.cursor)) == []


def test_record_changed_between_pages_is_neither_skipped_nor_lost(
    connector: BillingConnector, sandbox: BillingSandbox
) -> None:
    pages = connector.read(CUSTOMERS, None)
    first = next(pages)
    # The last record of the page just read changes before the next page is asked for.
    sandbox.seed("customers", [{"external_id": "acc-099", "name": "Renamed", "currency": "USD"}])

    rest = [record for page in pages for record in page.records]

    assert len(first.records) == 100
    assert _external_ids(rest) == [f"acc-{n:03d}" for n in range(100, 250)] + ["acc-099"]
    assert rest[-1]["name"] == "Renamed"


def test_records_equal_to_the_cursor_are_not_read_again(
    connector: BillingConnector, sandbox: BillingSandbox
) -> None:
    tenth = sandbox.resources("customers")[9]
    since = Cursor(modified=tenth["updated"], record_id=tenth["id"])

    read = [record for page in connector.read(CUSTOMERS, since) for record in page.records]

    assert tenth["id"] not in [record["id"] for record in read]
    assert len(read) == 240


class _ReversedProfile(JsonProfile):
    """A misbehaving API that lists newest first."""

    def list_page(
        self, response: requests.Response, collection: str = ""
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        records, body = super().list_page(response, collection)
        return records[::-1], body


def test_list_out_of_order_fails_loudly_rather_than_skip(sandbox: BillingSandbox) -> None:
    settings = BillingSettings(base_url=sandbox.url, api_key=sandbox.api_key, page_size=100)
    connector = BillingConnector(settings, RetrySettings(), profile=_ReversedProfile())
    with pytest.raises(ConfigError, match="order"):
        next(iter(connector.read(CUSTOMERS, None)))
    connector.close()


def test_unknown_collection_read_raises_config_error(connector: BillingConnector) -> None:
    with pytest.raises(ConfigError, match="404"):
        next(iter(connector.read(ReadSpec("refunds", ("id",)), None)))
