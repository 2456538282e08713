"""The generic JSON profile file: the shipped one loads; mistakes are reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.billing.paging import (
    CursorPaging,
    LinkHeaderPaging,
    NextTokenPaging,
    PageNumberPaging,
)
from connectors.billing.profile_file import SHIPPED_PROFILE, load_profile
from connectors.errors import ConfigError

GOOD = """\
version: 1
name: chargebee-like
definitions:
  base: &base
    list_path: /api/v2/customers
    upsert: {method: POST, path: "/api/v2/customers/{external_id}"}
    records_field: list
    paging: {type: next_token, param: offset, token_field: next_offset}
collections:
  customers:
    <<: *base
  invoices:
    <<: *base
    list_path: /api/v2/invoices
    paging: {type: page_number, param: page}
"""


def test_shipped_profile_describes_the_sandbox_api() -> None:
    profile = load_profile(SHIPPED_PROFILE)
    orders = profile.collection("orders")
    assert orders.list_path.format(collection="orders") == "/v1/orders"
    assert orders.paging_strategy() == CursorPaging(
        filter_param="updated_after", cursor_field="updated"
    )
    assert orders.batch is not None
    assert (orders.batch.path, orders.batch.max_records) == ("/v1/{collection}/batch", 100)


def test_profile_with_anchors_builds_each_collections_paging(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(GOOD, encoding="utf-8")
    profile = load_profile(path)
    assert profile.collection("customers").paging_strategy() == NextTokenPaging(
        "offset", "next_offset"
    )
    assert isinstance(profile.collection("invoices").paging_strategy(), PageNumberPaging)
    with pytest.raises(ConfigError, match="no collection 'orders'"):
        profile.collection("orders")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\nname: x\n", ["1:1: version"]),
        ("version: 1\nname: x\nfoo: 1\n", ["3:1: foo: unknown key"]),
        (
            "version: 1\nname: x\ndefault:\n  list_path: /v1/x\n  upsert: {path: /v1/x}\n"
            "  paging: {type: cursor}\n",
            ["5:12: default.upsert.path"],
        ),
        (
            "version: 1\nname: x\ndefault:\n  list_path: /v1/x\n"
            "  upsert: {path: '/v1/x/{external_id}'}\n  paging: {type: offset}\n",
            ["6:3: default.paging"],
        ),
        (
            "version: 1\nname: x\ndefault:\n  list_path: /v1/x\n"
            "  upsert: {path: '/v1/x/{external_id}'}\n"
            "  batch: {path: /v1/x/batch, max_records: 0}\n  paging: {type: cursor}\n",
            ["6:30: default.batch.max_records"],
        ),
        ("version: 1\nname: [\n", [":3:1: YAML error"]),
    ],
)
def test_invalid_profiles_report_file_line_and_path(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_profile(path)
    lines = str(raised.value).splitlines()
    assert len(lines) == len(expected)
    for line, fragment in zip(lines, expected, strict=True):
        assert line.startswith(str(path))
        assert fragment in line


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nname: x\nfoo: 1\nbar: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_profile(path)
    assert len(str(raised.value).splitlines()) == 2


def test_link_header_style_needs_no_parameters(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nname: x\ndefault:\n  list_path: /v1/x\n"
        "  upsert: {path: '/v1/x/{external_id}'}\n  paging: {type: link_header}\n",
        encoding="utf-8",
    )
    assert load_profile(path).collection("x").paging_strategy() == LinkHeaderPaging()
