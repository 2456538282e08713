"""The mapping loader: every problem at once, each at its exact file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.errors import MappingConfigError
from mappings.loader import check_mapping_files, load_mapping_set, shipped_mapping_files
from mappings.spec import mapping_json_schema

# A valid source file; each case below breaks it in one place. Line numbers matter.
CRM = """\
version: 2
system: crm
entities:
  account:
    object: Account
    cursor: SystemModstamp
    system_of_record: true
    fields:
      name: {path: Name}
      currency: {path: CurrencyIsoCode}
  order:
    object: Order
    cursor: SystemModstamp
    system_of_record: true
    fields:
      account_id: {path: AccountId, ref: account}
      status: {path: Status, map: {Draft: draft, Activated: activated}}
      effective_date: {path: EffectiveDate}
      currency: {path: CurrencyIsoCode}
      total: {path: TotalAmount}
"""

ACCOUNT_END = "      currency: {path: CurrencyIsoCode}\n  order:\n"

INVALID = [
    pytest.param(
        CRM.replace(ACCOUNT_END, "      currency: {path: X}\n      name: {path: Y}\n  order:\n"),
        '11:7: YAML error: duplicate key "name"',
        id="duplicate-key",
    ),
    pytest.param(
        CRM.replace("      name: {path: Name}", "  \t  name: {path: Name}"),
        "9:3: tab in indentation; indent with spaces",
        id="tab-in-indentation",
    ),
    pytest.param(
        CRM.replace("name: {path: Name}", "name: {pth: Name}"),
        "9:14: unknown key 'pth'; did you mean 'path'?",
        id="unknown-key",
    ),
    pytest.param(
        CRM + "      totl: {path: TotalAmount}\n",
        "21:7: unknown canonical field 'totl' on order; did you mean 'total'?",
        id="unknown-canonical-field",
    ),
    pytest.param(
        CRM.replace("ref: account}", "ref: acount}"),
        "16:42: ref to unknown canonical entity 'acount'; did you mean 'account'?",
        id="ref-to-unknown-entity",
    ),
    pytest.param(
        CRM.replace("total: {path: TotalAmount}", "total: {path: TotalAmount, type: date}"),
        "20:40: type date does not fit a canonical decimal field",
        id="type-mismatch",
    ),
    pytest.param(
        CRM.replace("      effective_date: {path: EffectiveDate}\n", ""),
        "11:3: required canonical field 'effective_date' of order is not mapped",
        id="missing-required-field",
    ),
    pytest.param(
        CRM.replace("Activated: activated", "Activated: active"),
        "17:61: lookup value 'active' is not in OrderStatus (draft, activated, cancelled)",
        id="lookup-value-not-in-enum",
    ),
    pytest.param(
        CRM.replace(
            ACCOUNT_END,
            ACCOUNT_END.replace(
                "  order:", "      parent_account_id: {path: P, ref: order}\n  order:"
            ),
        ),
        "17:42: reference cycle among source entities: account -> order -> account",
        id="reference-cycle",
    ),
    pytest.param(
        CRM.replace("name: {path: Name}", "name: {path: Name"),
        "10:15: YAML error: expected ',' or '}', but got ':'",
        id="yaml-syntax-error",
    ),
    pytest.param(
        CRM + "      lines: {path: OrderItems, each: order_item, parent_key: order_id}\n",
        "21:39: each names unknown entity mapping 'order_item'; this file has account, order",
        id="each-names-unknown-entity-mapping",
    ),
    pytest.param(
        CRM.replace("  order:\n", "  ordr:\n"),
        "11:3: unknown canonical entity 'ordr'; did you mean 'order'?",
        id="unknown-canonical-entity",
    ),
    pytest.param(
        CRM.replace("name: {path: Name}", "name: {path: Name, const: x}"),
        "9:26: a rule takes one source (path, const, template, expr, join); "
        "'const' is a second one",
        id="rule-with-two-sources",
    ),
    pytest.param(
        CRM.replace("    object: Order\n", ""),
        "11:3: missing required key 'object'",
        id="missing-required-key",
    ),
    pytest.param(
        CRM.replace("version: 2", "version: 3"),
        "1:10: unsupported version 3; this revbridge reads version 2",
        id="unsupported-version",
    ),
    pytest.param(
        CRM.replace(
            "      effective_date: {path: EffectiveDate}",
            "      effective_date: {path: E, default: soon}",
        ),
        "18:42: 'soon' is not a valid date: Invalid isoformat string: 'soon'",
        id="default-that-is-not-a-date",
    ),
]


TOTAL = "total: {path: TotalAmount}"
EFFECTIVE = "effective_date: {path: EffectiveDate}"

# An outbound file: keys are the target's fields, sources read canonical fields.
BOOKS = """\
version: 2
system: books
entities:
  order:
    object: SalesOrder
    external_id: externalId
    fields:
      tranId: {path: order_number}
      status: {path: status, map: {draft: D, activated: A, cancelled: C}}
      memo: {template: "Order {order_number}"}
      big: {expr: "total > 1000", when: "status == 'activated'"}
"""

LANGUAGE_ERRORS = [
    pytest.param(
        CRM.replace(TOTAL, 'total: {expr: "TotalAmount +* 2"}'),
        "20:15: expr: syntax error at character 14: invalid syntax",
        id="expr-syntax-error",
    ),
    pytest.param(
        CRM.replace(TOTAL, 'total: {expr: "frobnicate(TotalAmount)"}'),
        "20:15: expr: unknown function 'frobnicate'; available: abs, coalesce, concat, date, "
        "decimal, len, lower, max, min, round, strip, text, upper",
        id="expr-unknown-function",
    ),
    pytest.param(
        CRM.replace(TOTAL, 'total: {expr: "abs(TotalAmount).__class__"}'),
        "20:15: expr: attribute access is only allowed on field paths",
        id="expr-attribute-access-to-python-internals",
    ),
    pytest.param(
        CRM.replace(TOTAL, 'total: {path: TotalAmount, when: "Status =="}'),
        "20:34: when: syntax error: invalid syntax",
        id="when-syntax-error",
    ),
    pytest.param(
        CRM.replace("name: {path: Name}", 'name: {template: "{Name:>10}"}'),
        "9:14: template: '{Name:>10}': a slot is a field path like {FirstName}; "
        "use expr to compute or format",
        id="template-with-format-spec",
    ),
    pytest.param(
        CRM.replace(EFFECTIVE, 'effective_date: {path: D, type: date, format: "%d/%q/%Y"}'),
        "18:45: format: invalid format '%d/%q/%Y': unknown directive %q",
        id="invalid-date-format",
    ),
    pytest.param(
        CRM.replace(EFFECTIVE, 'effective_date: {path: D, type: datetime, format: "%d/%m/%Y"}'),
        "18:49: format: invalid format '%d/%m/%Y': a datetime format needs %z for its time zone",
        id="datetime-format-without-zone",
    ),
    pytest.param(
        CRM.replace(EFFECTIVE, 'effective_date: {path: D, format: "%d/%m/%Y"}'),
        "18:33: format: a text format goes with type date or datetime",
        id="format-without-type",
    ),
    pytest.param(
        CRM.replace(
            TOTAL, 'total: {path: T, type: decimal, format: {decimal: ",", thousands: ","}}'
        ),
        "20:39: format: decimal mark and thousands separator must differ",
        id="number-format-with-one-mark-twice",
    ),
    pytest.param(
        CRM.replace(TOTAL, "total: {path: TotalAmount, unmapped: default, default: 0}"),
        "20:7: unmapped only goes with map",
        id="unmapped-without-map",
    ),
    pytest.param(
        CRM.replace("Activated: activated}}", "Activated: activated}, unmapped: default}"),
        "17:7: unmapped: default needs a default",
        id="unmapped-default-without-default",
    ),
    pytest.param(
        CRM.replace(TOTAL, "total: {path: TotalAmount, type: money}"),
        "20:7: type money and currency go together",
        id="money-without-currency",
    ),
    pytest.param(
        CRM.replace("name: {path: Name}", "name: Name"),
        "9:13: a rule is a mapping like {path: Name}, not 'Name'",
        id="rule-that-is-not-a-mapping",
    ),
    pytest.param(
        CRM.replace("name: {path: Name}", "name: {path: N, split: {a: b}}"),
        "9:30: needs a canonical compound field (like an address), not string",
        id="split-into-a-plain-field",
    ),
    pytest.param(
        CRM.replace("name: {path: Name}", "name: {path: Name, type: enum}"),
        "9:32: type enum does not fit a canonical string field",
        id="enum-type-on-a-text-field",
    ),
    pytest.param(
        BOOKS.replace('{order_number}"', '{order_numbr}"'),
        "10:24: unknown canonical field 'order_numbr' on order; did you mean 'order_number'?",
        id="outbound-template-names-unknown-field",
    ),
    pytest.param(
        BOOKS.replace('"total > 1000"', '"totl > 1000"'),
        "11:19: unknown canonical field 'totl' on order; did you mean 'total'?",
        id="outbound-expr-names-unknown-field",
    ),
    pytest.param(
        BOOKS.replace("status == ", "stats == "),
        "11:41: unknown canonical field 'stats' on order; did you mean 'status'?",
        id="outbound-when-names-unknown-field",
    ),
    pytest.param(
        BOOKS.replace(", cancelled: C}", "}"),
        "9:30: map does not cover OrderStatus cancelled; "
        "add them or set unmapped: default with a default",
        id="outbound-map-misses-an-enum-member",
    ),
    pytest.param(
        BOOKS.replace("cancelled: C", "cancelled: C, canceled: C"),
        "9:74: lookup key 'canceled' is not in OrderStatus (draft, activated, cancelled)",
        id="outbound-map-key-not-an-enum-member",
    ),
    pytest.param(
        BOOKS.replace(
            "    external_id: externalId\n", "    external_id: externalId\n    filter: x\n"
        ),
        "7:5: filter only goes with an entity read on its own (system_of_record and cursor)",
        id="filter-on-a-target-entity",
    ),
    pytest.param(
        CRM.replace("    object: Order\n", "    object: Order\n    key_scope: parent\n"),
        "13:5: key_scope: parent only goes with an entity read with its parent through `each`",
        id="key-scope-parent-on-an-entity-read-on-its-own",
    ),
]


def write(tmp_path: Path, text: str, name: str = "crm.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "expected"), INVALID + LANGUAGE_ERRORS)
def test_invalid_file_reports_its_one_problem_at_file_line_column(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)

    assert [str(problem) for problem in check_mapping_files([path])] == [f"{path}:{expected}"]


def test_valid_file_has_no_problems(tmp_path: Path) -> None:
    assert check_mapping_files([write(tmp_path, CRM)]) == []
    assert check_mapping_files([write(tmp_path, BOOKS, "books.yaml")]) == []


def test_file_with_several_problems_reports_all_of_them_in_line_order(tmp_path: Path) -> None:
    broken = (
        CRM.replace("ref: account}", "ref: acount}")
        .replace("total: {path: TotalAmount}", "total: {path: TotalAmount, type: date}")
        .replace("Activated: activated", "Activated: active")
    )
    path = write(tmp_path, broken)

    positions = [(p.line, p.column) for p in check_mapping_files([path])]

    assert positions == [(16, 42), (17, 61), (20, 40)]


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    first = write(tmp_path, CRM.replace("version: 2", "version: 3"), "first.yaml")
    second = write(tmp_path, CRM.replace("name: {path: Name}", "name: {path: Name"), "second.yaml")

    files = [problem.file for problem in check_mapping_files([first, second])]

    assert files == [str(first), str(second)]


def test_load_raises_config_error_listing_each_problem_on_its_own_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, CRM.replace("ref: account}", "ref: acount}").replace("version: 2", "version: 3")
    )

    with pytest.raises(MappingConfigError) as raised:
        load_mapping_set([path])

    lines = str(raised.value).splitlines()
    assert lines == [str(problem) for problem in raised.value.problems]
    assert len(lines) == 1  # the spec stage stops this file before the meaning stage


def test_the_same_entity_captured_from_two_systems_is_a_problem(tmp_path: Path) -> None:
    first = write(tmp_path, CRM, "crm.yaml")
    second = write(tmp_path, CRM.replace("system: crm", "system: other"), "other.yaml")

    messages = [problem.message for problem in check_mapping_files([first, second])]

    assert messages == [
        f"account is already captured from crm ({first}); one system of record",
        f"order is already captured from crm ({first}); one system of record",
    ]


def test_target_entity_without_external_id_is_a_problem(tmp_path: Path) -> None:
    target = """\
version: 2
system: books
entities:
  account:
    object: Customer
    fields:
      companyName: {path: nme}
"""
    path = write(tmp_path, target)

    problems = [str(problem) for problem in check_mapping_files([path])]

    assert problems == [
        f"{path}:4:3: account is written to books; name its external_id field",
        f"{path}:7:27: unknown canonical field 'nme' on account; did you mean 'name'?",
    ]


def test_shipped_mapping_files_load_without_problems() -> None:
    names = [path.name for path in shipped_mapping_files()]

    assert names == ["billing.yaml", "erp.yaml", "salesforce.yaml"]
    assert check_mapping_files(shipped_mapping_files()) == []
    assert sorted(load_mapping_set().systems) == ["billing", "erp", "salesforce"]


def test_json_schema_describes_rule_keys_by_their_yaml_names() -> None:
    schema = mapping_json_schema()

    rule_keys = set(schema["$defs"]["PathRule"]["properties"])

    assert {"path", "type", "map", "default", "ref", "each", "required", "when"} <= rule_keys
    assert schema["$defs"]["PathRule"]["additionalProperties"] is False
    assert schema["$defs"]["PathRule"]["required"] == ["path"]
    assert schema["title"] == "revbridge mapping file, version 2"
