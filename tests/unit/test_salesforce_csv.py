"""Bulk CSV rows become REST-shaped records; ingest CSV and error text round-trip."""

from __future__ import annotations

import csv
import io

import pytest

from connectors.errors import RateLimited
from connectors.salesforce.csv_rows import RestShaper, payloads_csv
from connectors.salesforce.ingest import parse_bulk_error
from connectors.salesforce.limits import ApiBudget, parse_api_usage


def test_rows_are_typed_back_to_rest_values() -> None:
    columns = ["Id", "IsDeleted", "Amount", "Count", "Stamp", "Day", "Account.Name", "Note"]
    types = {"IsDeleted": "boolean", "Amount": "currency", "Count": "int", "Stamp": "datetime",
             "Day": "date", "Account.Name": "string", "Note": "string"}  # fmt: skip
    shaper = RestShaper(columns, types)
    row = ["001", "false", "1200.5", "3", "2026-01-05T10:00:01.000Z", "2026-02-01", "Acme", ""]
    assert shaper.shape(row) == {
        "Id": "001", "IsDeleted": False, "Amount": 1200.5, "Count": 3,
        "Stamp": "2026-01-05T10:00:01.000+0000", "Day": "2026-02-01",
        "Account": {"Name": "Acme"}, "Note": None,
    }  # fmt: skip


def test_a_parent_with_only_empty_columns_is_null_like_rest() -> None:
    shaper = RestShaper(["Id", "Account.Name", "Account.Phone"], {})
    assert shaper.shape(["001", "", ""]) == {"Id": "001", "Account": None}


def test_ingest_csv_writes_null_as_na_and_leaves_missing_cells_empty() -> None:
    payloads = [{"Key": "a", "Name": None, "Active": True}, {"Key": "b, c"}]
    content = payloads_csv(["Key", "Name", "Active"], payloads)
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert rows == [["Key", "Name", "Active"], ["a", "#N/A", "true"], ["b, c", "", ""]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --",
         ("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ("Name",))),
        ("DUPLICATE_VALUE:duplicate value found: Key__c:", ("DUPLICATE_VALUE",
         "duplicate value found: Key__c", ())),
    ],
)  # fmt: skip
def test_bulk_error_text_splits_into_code_message_and_fields(
    text: str, expected: tuple[str, str, tuple[str, ...]]
) -> None:
    assert parse_bulk_error(text) == expected


def test_limit_info_header_parses_and_the_floor_refuses_the_call_that_would_cross_it() -> None:
    assert parse_api_usage("api-usage=18/15000, per-app-api-usage=2/250(appName=x)") == (18, 15000)
    budget = ApiBudget(20)
    budget.observe("api-usage=7999/10000")
    budget.ensure_room()
    budget.observe("api-usage=8000/10000")
    with pytest.raises(RateLimited, match="20% \\(2,000 calls\\)"):
        budget.ensure_room()
