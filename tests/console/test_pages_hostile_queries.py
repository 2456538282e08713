"""Query strings a person or a link can send to the pages: NUL, control characters, markup and
over-long values get a page or a 422, never a server error, on SQLite and PostgreSQL (which
holds no NUL in text)."""

from __future__ import annotations

import pytest

from sync.store import Store
from tests.console.conftest import ConsoleClient
from tests.console.error_rows import error_values, insert_errors

HOSTILE = ["%00", "a%00b", "%1b%5b31m", "%3Cscript%3Ealert(1)%3C/script%3E", "x" * 5000]
PAGES = [
    "/errors?q={}",
    "/errors?entity={}",
    "/errors?system={}&error_class={}",
    "/errors?sort={}&age={}",
    "/errors?after={}",
    "/errors?before={}",
    "/journey?id={}",
    "/conflicts?entity={}",
    "/runs?flow={}",
    "/runs/1?errors_after={}",
    "/conflicts/billing/{}",
]


@pytest.mark.parametrize("value", HOSTILE, ids=["nul", "inner-nul", "escape", "markup", "long"])
def test_hostile_query_values_never_fail_a_page(
    store: Store, viewer_client: ConsoleClient, value: str
) -> None:
    with store.transaction() as connection:
        insert_errors(connection, [error_values(1)])
    for page in PAGES:
        answer = viewer_client.get(page.format(value, value))
        assert answer.status_code in (200, 400, 404, 422), (page, answer.status_code)
        if answer.headers["content-type"].startswith("text/html"):
            assert "<script>alert(1)" not in answer.text


# Past the store's integer ids (SQLite's and PostgreSQL's bigint overflow there too).
HUGE_IDS = ["/runs?before={}", "/runs/{}", "/errors/{}"]


@pytest.mark.parametrize("number", ["2147483648", "9223372036854775808", "-1", "0"])
def test_ids_out_of_the_stores_range_are_refused_not_a_server_error(
    viewer_client: ConsoleClient, number: str
) -> None:
    for page in HUGE_IDS:
        answer = viewer_client.get(page.format(number))
        assert answer.status_code == 422, (page, answer.status_code)
