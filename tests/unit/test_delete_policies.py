"""flows[].deletes: propagate is accepted where the targets can delete, refused where not."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigInvalid, load_settings
from sync.engine.deletes import DeletePolicy
from sync.engine.flows import flows_from_settings
from tests.unit.test_config_loader import MINIMAL, SECRETS


def _config(tmp_path: Path, profile: str, deletes: str) -> Path:
    text = MINIMAL.replace(
        "  api_key: ${BILLING_API_KEY}\n",
        f"  api_key: ${{BILLING_API_KEY}}\n  profile: {profile}\n",
    )
    text += f"flows:\n  - name: q2c\n    deletes: {{{deletes}}}\n"
    path = tmp_path / "revbridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_propagate_loads_into_the_flow_for_the_generic_billing_api(tmp_path: Path) -> None:
    path = _config(tmp_path, "json", "order: propagate, account: propagate, product: ignore")

    flow = flows_from_settings(load_settings(path, SECRETS))["q2c"]

    assert flow.delete_policy("order") is DeletePolicy.PROPAGATE
    assert flow.delete_policy("account") is DeletePolicy.PROPAGATE
    assert flow.delete_policy("product") is DeletePolicy.IGNORE


def test_stripe_may_propagate_deletes_of_customers_and_products(tmp_path: Path) -> None:
    path = _config(tmp_path, "stripe", "account: propagate, product: propagate")

    flow = flows_from_settings(load_settings(path, SECRETS))["q2c"]

    assert flow.delete_policy("account") is DeletePolicy.PROPAGATE


@pytest.mark.parametrize(
    ("entity", "why"),
    [
        ("order", "subscription, which Stripe cancels but never deletes"),
        ("invoice", "a finalized invoice can only be voided"),
        ("price_book_entry", "Stripe archives prices"),
    ],
)
def test_stripe_refuses_propagate_where_it_cannot_delete_naming_entity_and_fix(
    tmp_path: Path, entity: str, why: str
) -> None:
    path = _config(tmp_path, "stripe", f"account: propagate, {entity}: propagate")

    with pytest.raises(ConfigInvalid) as caught:
        load_settings(path, SECRETS)

    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith(f"{path}:")
    assert f"deletes.{entity} (flow q2c): propagate is not possible" in problem
    assert why in problem
    assert problem.endswith("use deactivate instead")
    assert "deletes.account" not in problem


def test_an_unknown_delete_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match=r"deletes\.order"):
        load_settings(_config(tmp_path, "json", "order: purge"), SECRETS)
