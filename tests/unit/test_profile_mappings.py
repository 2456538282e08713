"""billing.profile picks the shipped mappings; a configured mappings_dir still wins."""

from __future__ import annotations

import shutil
from pathlib import Path

from config.loader import load_settings
from mappings.loader import mapping_files_for, shipped_mapping_files
from sync.cli.common import mappings_for
from tests.unit.test_config_loader import MINIMAL, SECRETS

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"


def _config(tmp_path: Path, profile: str, extra: str = "") -> Path:
    text = MINIMAL.replace("  api_key:", f"  profile: {profile}\n  api_key:") + extra
    path = tmp_path / "revbridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_stripe_profile_ships_its_billing_and_erp_files_beside_the_default_salesforce() -> None:
    files = shipped_mapping_files("stripe")

    assert [path.name for path in files] == ["billing.yaml", "erp.yaml", "salesforce.yaml"]
    assert [path.parent for path in files] == [SHIPPED / "profiles/stripe"] * 2 + [SHIPPED]
    assert (
        shipped_mapping_files("json") == shipped_mapping_files() == sorted(SHIPPED.glob("*.yaml"))
    )


def test_stripe_profile_without_mappings_dir_runs_with_the_stripe_mappings(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, "stripe"), SECRETS)

    billing = mappings_for(settings).system("billing").entities

    assert billing["invoice_line"].object_name == "line_items"  # Stripe's invoice lines
    assert billing["invoice"].system_of_record  # Stripe owns invoices; the generic ERP does not
    assert "contact" not in billing


def test_json_profile_without_mappings_dir_runs_with_the_default_mappings(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, "json"), SECRETS)

    billing = mappings_for(settings).system("billing").entities

    assert billing["contact"].object_name == "contacts"
    assert not billing["invoice"].system_of_record


def test_an_explicit_mappings_dir_wins_over_the_billing_profile(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for path in shipped_mapping_files("json"):
        shutil.copy(path, folder)
    settings = load_settings(_config(tmp_path, "stripe", "mappings_dir: mine\n"), SECRETS)

    billing = mappings_for(settings).system("billing").entities

    assert mapping_files_for(settings) == sorted(folder.glob("*.yaml"))
    assert billing["contact"].object_name == "contacts"
    assert "invoice_line" not in billing
