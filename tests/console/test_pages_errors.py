"""The error-queue pages over HTTP on SQLite and PostgreSQL: paging, filters, mistakes, actions.

The browser tests drive the happy path in Chromium; these hold the pages' answers to what a
person can mistype or a link can carry, on both databases.
"""

from __future__ import annotations

import re

import pytest

from sync.store import Store
from sync.store.audit import AuditFilter, list_audit
from sync.store.error_queue import ErrorFilter, list_errors
from sync.store.schema import ErrorStatus
from tests.console.conftest import SECRET_VALUES, ConsoleClient
from tests.console.error_rows import error_values, insert_errors

_ROW = re.compile(r'<tr data-entry-id="(\d+)">')


def _seed(store: Store, count: int) -> None:
    with store.transaction() as connection:
        insert_errors(connection, [error_values(index) for index in range(1, count + 1)])


def _ids(html: str) -> list[int]:
    return [int(found) for found in _ROW.findall(html)]


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_keyset_pages_walk_the_queue_forward_and_back_with_htmx_fragments(
    store: Store, viewer_client: ConsoleClient
) -> None:
    _seed(store, 120)

    first = viewer_client.get("/errors")
    assert first.status_code == 200
    assert _ids(first.text) == list(range(120, 70, -1))
    next_url = _link(first.text, "next")
    assert next_url is not None
    assert _link(first.text, "prev") is None

    second = viewer_client.get(next_url, headers={"HX-Request": "true"})
    assert "<html" not in second.text  # the fragment alone, for htmx to swap in
    assert _ids(second.text) == list(range(70, 20, -1))
    third_url = _link(second.text, "next")
    assert third_url is not None
    third = viewer_client.get(third_url, headers={"HX-Request": "true"})
    assert _ids(third.text) == list(range(20, 0, -1))
    assert _link(third.text, "next") is None

    back_url = _link(third.text, "prev")
    assert back_url is not None
    back = viewer_client.get(back_url, headers={"HX-Request": "true"})
    assert _ids(back.text) == list(range(70, 20, -1))


def test_filters_text_and_sort_narrow_the_queue(store: Store, viewer_client: ConsoleClient) -> None:
    with store.transaction() as connection:
        insert_errors(
            connection,
            [
                error_values(1),
                error_values(2, entity="account", message="account 2 has a bad currency"),
                error_values(3, status="ignored"),
                error_values(4, attempts=9),
            ],
        )

    assert _ids(viewer_client.get("/errors?entity=account").text) == [2]
    assert _ids(viewer_client.get("/errors?status=ignored").text) == [3]
    assert _ids(viewer_client.get("/errors?q=BAD+CURRENCY").text) == [2]
    assert _ids(viewer_client.get("/errors?sort=attempts").text)[0] == 4
    assert _ids(viewer_client.get("/errors?age=older-7d").text) == [4, 3, 2, 1]
    assert _ids(viewer_client.get("/errors?age=1h").text) == []


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("status=opened", "there is no status"),
        ("age=fortnight", "there is no age"),
        ("after=not-a-cursor", "page cursor is damaged"),
    ],
)
def test_a_mistyped_filter_or_damaged_cursor_is_said_not_a_server_error(
    store: Store, viewer_client: ConsoleClient, query: str, said: str
) -> None:
    _seed(store, 3)

    answer = viewer_client.get(f"/errors?{query}")

    assert answer.status_code == 200
    assert said in answer.text


def test_an_entry_that_does_not_exist_is_a_404_page(viewer_client: ConsoleClient) -> None:
    answer = viewer_client.get("/errors/424242")
    assert answer.status_code == 404
    assert "There is no error-queue entry 424242." in answer.text
    assert viewer_client.get("/errors/not-a-number").status_code == 422


def test_one_entry_shows_reason_payload_and_a_salesforce_link_built_only_from_a_real_id(
    store: Store, viewer_client: ConsoleClient
) -> None:
    with store.transaction() as connection:
        insert_errors(
            connection,
            [
                error_values(1, source_id="8015g0000000001AAA"),
                error_values(2, source_id="javascript:alert(1)//"),
            ],
        )

    good = viewer_client.get("/errors/1").text
    bad = viewer_client.get("/errors/2").text

    assert 'href="https://login.invalid/8015g0000000001AAA"' in good
    assert "&#34;Id&#34;: &#34;801000000000000001&#34;" in good  # the payload, as JSON text
    assert 'id="source-link"' not in bad
    assert "javascript:alert(1)//" in bad
    for secret in SECRET_VALUES:
        assert secret not in good


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"action": "retry"}, "select at least one entry"),
        ({"action": "retry", "ids": "one"}, "the selection names no entry"),
        ({"action": "resolve", "ids": "1"}, "resolve needs one"),
        ({"action": "ignore", "ids": "1", "note": "   "}, "ignore needs one"),
        ({"action": "delete", "ids": "1"}, "choose retry, resolve or ignore"),
    ],
)
def test_an_action_the_form_cannot_carry_out_changes_nothing(
    store: Store, support_client: ConsoleClient, form: dict[str, str], said: str
) -> None:
    _seed(store, 1)

    answer = support_client.post("/errors/actions", data=form)

    assert answer.status_code == 400
    assert said in answer.text
    with store.engine.connect() as connection:
        assert list_errors(connection, limit=None)[0].status is ErrorStatus.OPEN
        assert list_audit(connection) == []


def test_ignoring_with_a_note_closes_the_entries_as_that_person_and_audits_it(
    store: Store, support_client: ConsoleClient
) -> None:
    _seed(store, 3)
    note = "Duplicates of <b>order 1</b>\x00 from the import"

    answer = support_client.post(
        "/errors/actions", data={"action": "ignore", "ids": ["1", "2", "2"], "note": note}
    )

    assert answer.status_code == 200
    assert "2 entries ignored." in answer.text
    with store.engine.connect() as connection:
        rows = {row.id: row for row in list_errors(connection, limit=None)}
        (audit,) = list_audit(connection, AuditFilter(action="error.ignore"))
    assert (rows[1].status, rows[1].closed_by) == (ErrorStatus.IGNORED, "support-user")
    assert rows[3].status is ErrorStatus.OPEN
    assert audit.actor == "support-user"
    assert sorted(ref.error_id for ref in audit.records if ref.error_id) == [1, 2]
    detail = support_client.get("/errors/1").text
    assert "Duplicates of &lt;b&gt;order 1&lt;/b&gt;" in detail

    again = support_client.post(
        "/errors/actions", data={"action": "resolve", "ids": "1", "note": "already closed"}
    )
    assert again.status_code == 400
    assert "None of the selected entries is open any more." in again.text


def test_a_viewer_cannot_act_and_sees_no_buttons(
    store: Store, viewer_client: ConsoleClient
) -> None:
    _seed(store, 1)

    assert 'value="retry"' not in viewer_client.get("/errors").text
    refused = viewer_client.post("/errors/actions", data={"action": "retry", "ids": "1"})

    assert refused.status_code == 403
    with store.engine.connect() as connection:
        assert list_errors(connection, where=ErrorFilter(ids=(1,)))[0].status is ErrorStatus.OPEN
