"""flows[].deletes: propagate is accepted where the targets can delete, refused where not.

What Stripe can delete lives with its profile (connectors/billing/stripe/deletes.py); commands
load the configuration with the billing profiles' checks, so a refusal still says file:line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigInvalid, load_settings
from config.settings import Settings
from connectors.billing.connector import CONFIG_CHECKS
from sync.engine.deletes import DeletePolicy
from sync.engine.flows import flows_from_settings
from tests.unit.test_config_loader import MINIMAL, SECRETS


def _config(tmp_path: Path, profile: str, deletes: str, flow: str = "") -> Path:
    text = MINIMAL.replace(
        "  api_key: ${BILLING_API_KEY}\n",
        f"  api_key: ${{BILLING_API_KEY}}\n  profile: {profile}\n",
    )
    text += f"flows:\n  - name: q2c\n{flow}    deletes: {{{deletes}}}\n"
    path = tmp_path / "revbridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _load(path: Path, environ: dict[str, str] = SECRETS) -> Settings:
    return load_settings(path, environ, checks=CONFIG_CHECKS)


def _problems(path: Path, environ: dict[str, str] = SECRETS) -> list[str]:
    with pytest.raises(ConfigInvalid) as caught:
        _load(path, environ)
    return [str(problem) for problem in caught.value.problems]


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_propagate_loads_into_the_flow_for_the_generic_billing_api(tmp_path: Path) -> None:
    path = _config(tmp_path, "json", "order: propagate, account: propagate, product: ignore")

    flow = flows_from_settings(_load(path))["q2c"]

    assert flow.delete_policy("order") is DeletePolicy.PROPAGATE
    assert flow.delete_policy("account") is DeletePolicy.PROPAGATE
    assert flow.delete_policy("product") is DeletePolicy.IGNORE


def test_stripe_may_propagate_deletes_of_customers_and_products(tmp_path: Path) -> None:
    path = _config(tmp_path, "stripe", "account: propagate, product: propagate")

    flow = flows_from_settings(_load(path))["q2c"]

    assert flow.delete_policy("account") is DeletePolicy.PROPAGATE


@pytest.mark.parametrize(
    ("entity", "why", "instead"),
    [
        ("order", "subscription, which Stripe cancels but never deletes", "deactivate"),
        ("invoice", "a finalized invoice can only be voided", "deactivate"),
        ("price_book_entry", "Stripe archives prices", "deactivate"),
        ("payment", "Stripe refunds payments", "ignore"),
    ],
)
def test_stripe_refuses_propagate_where_it_cannot_delete_naming_entity_and_fix(
    tmp_path: Path, entity: str, why: str, instead: str
) -> None:
    path = _config(tmp_path, "stripe", f"account: propagate, {entity}: propagate")

    [problem] = _problems(path)

    column = path.read_text().splitlines()[-1].index(f"{entity}:") + 1
    assert problem.startswith(f"{path}:{_line_of(path, 'deletes:')}:{column}: ")
    assert f"flows.0.deletes.{entity}: propagate is not possible" in problem
    assert "(flow q2c)" in problem
    assert why in problem
    assert problem.endswith(f"use {instead} instead")
    assert "deletes.account" not in problem


def test_stripe_refusal_is_reported_with_the_other_problems_of_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, "stripe", "order: propagate")
    text = path.read_text().replace('  account: "123"\n', '  account: "123"\n  acount: 1\n')
    path.write_text(text, encoding="utf-8")

    problems = _problems(path)

    assert len(problems) == 2
    assert any(f":{_line_of(path, 'acount')}:" in p and "unknown key" in p for p in problems)
    assert any(f":{_line_of(path, 'deletes:')}:" in p and "deletes.order" in p for p in problems)


def test_stripe_chosen_by_an_environment_variable_refuses_the_file_s_policy(
    tmp_path: Path,
) -> None:
    path = _config(tmp_path, "json", "order: propagate")

    [problem] = _problems(path, {**SECRETS, "REVBRIDGE_BILLING__PROFILE": "stripe"})

    assert problem.startswith(f"{path}:{_line_of(path, 'deletes:')}:")
    assert "flows.0.deletes.order" in problem


def test_a_flow_that_does_not_write_to_stripe_may_propagate(tmp_path: Path) -> None:
    path = _config(
        tmp_path, "stripe", "invoice: propagate", flow="    source: billing\n    targets: [erp]\n"
    )

    flow = flows_from_settings(_load(path))["q2c"]

    assert flow.delete_policy("invoice") is DeletePolicy.PROPAGATE


def test_an_unknown_delete_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match=r"deletes\.order"):
        _load(_config(tmp_path, "json", "order: purge"))
