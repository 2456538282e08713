"""Format version 1 mapping files: read as version 2, rewritten as version 2 keeping comments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mappings.loader import check_mapping_files, load_mapping_set
from mappings.upgrade import upgrade_text
from sync.cli.app import app

# Every version 1 rule shape, as the skeleton's loader read them. Line numbers matter.
CRM_V1 = """\
# The CRM owns accounts and orders.
version: 1
system: crm
entities:
  account:
    object: Account
    cursor: SystemModstamp
    system_of_record: true
    fields:
      name: {path: Name}
      currency: {value: USD}  # one currency in this org
      status: {path: Type, map: {Customer: active, Former Customer: inactive}, default: active}
  order:
    object: Order
    cursor: SystemModstamp
    system_of_record: true
    fields:
      account_id: {path: AccountId, ref: account}
      status: {path: Status, map: {Draft: draft, Activated: activated}}
      effective_date: {path: EffectiveDate}
      currency: {default: USD}
      total: {path: TotalAmount}
      lines: {each: OrderItems, entity: order_line, parent_key: order_id}
  order_line:
    object: OrderItem
    system_of_record: true
    fields:
      product_id: {path: Product2Id}
      quantity: {path: Quantity}
      unit_price: {path: UnitPrice}
      total: {path: TotalPrice}
"""

BILLING_V1 = """\
version: 1
system: billing
entities:
  order:
    object: orders
    key: id
    external_id: external_id
    fields:
      number: {path: order_number}
      lines:
        # every order line, in order
        each: lines
        fields:
          amount: {path: total, type: decimal}
          plan: {value: standard}
"""

CRM_V2 = (
    CRM_V1.replace("version: 1", "version: 2")
    .replace("{value: USD}", "{const: USD}")
    .replace("inactive}, default", "inactive}, unmapped: default, default")
    .replace("{default: USD}", "{const: USD}")
    .replace("{each: OrderItems, entity: order_line", "{path: OrderItems, each: order_line")
)

BILLING_V2 = (
    BILLING_V1.replace("version: 1", "version: 2")
    .replace("        each: lines\n        fields:", "        path: lines\n        each:")
    .replace("{value: standard}", "{const: standard}")
)

ORDER = {
    "Id": "801A",
    "SystemModstamp": "2026-03-01T10:00:00.000+0000",
    "AccountId": "001A",
    "Status": "Activated",
    "EffectiveDate": "2026-03-01",
    "TotalAmount": 30,
    "OrderItems": {
        "records": [
            {"Id": "802A", "Product2Id": "01tA", "Quantity": 3, "UnitPrice": 10, "TotalPrice": 30}
        ]
    },
}


class _Refs:
    """Every reference resolves to a predictable id."""

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return f"{entity}:{system_id}"

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return f"{system}:{canonical_id}"


def _write(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return sorted(folder.glob("*.yaml"))


def _outputs(paths: list[Path], raw_order: dict[str, Any]) -> tuple[Any, ...]:
    mappings = load_mapping_set(paths)
    refs = _Refs()
    order = mappings.system("crm").entities["order"].to_canonical(raw_order, refs)
    unmapped_account = {
        "Id": "001A",
        "Name": "Acme",
        "Type": "Prospect",
        "SystemModstamp": "2026-03-01T10:00:00.000+0000",
    }
    account = mappings.system("crm").entities["account"].to_canonical(unmapped_account, refs)
    payload = mappings.system("billing").entities["order"].from_canonical(order, refs)
    return order, account, payload


def test_upgrade_rewrites_each_version_1_shape_and_keeps_comments_and_layout() -> None:
    crm = upgrade_text(CRM_V1)
    billing = upgrade_text(BILLING_V1)

    assert crm is not None
    assert billing is not None
    assert crm[0] == CRM_V2
    assert billing[0] == BILLING_V2
    assert crm[1] == [
        "account.fields.currency: value -> const",
        "account.fields.status: map with default -> unmapped: default",
        "order.fields.currency: lone default -> const",
        "order.fields.lines: each OrderItems -> path + each",
    ]


def test_a_version_2_file_is_left_alone() -> None:
    assert upgrade_text(CRM_V2) is None


def test_version_1_files_load_and_map_exactly_as_their_upgraded_text(tmp_path: Path) -> None:
    old = _write(tmp_path / "v1", {"crm.yaml": CRM_V1, "billing.yaml": BILLING_V1})
    new = _write(tmp_path / "v2", {"crm.yaml": CRM_V2, "billing.yaml": BILLING_V2})

    order, account, payload = _outputs(old, ORDER)

    assert (order, account, payload) == _outputs(new, ORDER)
    assert account["status"] == "active"  # version 1: an unmapped value takes the default
    assert order["currency"] == "USD"
    assert payload["lines"] == [{"amount": "30", "plan": "standard"}]


def test_a_problem_in_a_version_1_file_is_reported_at_its_own_line_and_column(
    tmp_path: Path,
) -> None:
    broken = CRM_V1.replace("      total: {path: TotalAmount}", "      totl: {path: TotalAmount}")
    paths = _write(tmp_path / "v1", {"crm.yaml": broken, "billing.yaml": BILLING_V1})

    problems = check_mapping_files(paths)

    assert [(p.line, p.column) for p in problems] == [(13, 3), (22, 7)]
    assert "total" in problems[0].message  # the order lacks a required canonical field
    assert "'totl'" in problems[1].message


@pytest.mark.parametrize("dry_run", [True, False])
def test_mappings_upgrade_command_rewrites_files_unless_dry_run(
    tmp_path: Path, dry_run: bool
) -> None:
    paths = _write(tmp_path / "m", {"crm.yaml": CRM_V1, "billing.yaml": BILLING_V1})

    outcome = CliRunner().invoke(
        app, ["mappings", "upgrade", str(tmp_path / "m"), *(["--dry-run"] if dry_run else [])]
    )

    assert outcome.exit_code == 0, outcome.output
    assert "crm.yaml: order.fields.lines: each OrderItems -> path + each" in outcome.output
    expected = [BILLING_V1, CRM_V1] if dry_run else [BILLING_V2, CRM_V2]
    assert [path.read_text(encoding="utf-8") for path in paths] == expected


def test_mappings_upgrade_refuses_to_rewrite_files_with_problems(tmp_path: Path) -> None:
    broken = CRM_V1.replace("object: Order\n", "object: Order\n    colour: red\n")
    paths = _write(tmp_path / "m", {"crm.yaml": broken, "billing.yaml": BILLING_V1})

    outcome = CliRunner().invoke(app, ["mappings", "upgrade", str(tmp_path / "m")])

    assert outcome.exit_code == 2  # invalid mappings, as `mappings check`
    assert "unknown key 'colour'" in outcome.output
    assert [path.read_text(encoding="utf-8") for path in paths] == [BILLING_V1, broken]


def test_mappings_check_notes_version_1_files(tmp_path: Path) -> None:
    _write(tmp_path / "m", {"crm.yaml": CRM_V1, "billing.yaml": BILLING_V2})

    outcome = CliRunner().invoke(app, ["mappings", "check", str(tmp_path / "m"), "--json"])

    assert outcome.exit_code == 0, outcome.output
    notes = json.loads(outcome.output)["notes"]
    assert len(notes) == 1
    assert "crm.yaml is format version 1" in notes[0]
