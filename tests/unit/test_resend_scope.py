"""Which entities a resend writes to a target, in which order, and the options it refuses."""

from __future__ import annotations

import pytest

from mappings.mapping_set import MappingSet
from sync.engine.flows import QUOTE_TO_CASH, RECEIVABLES, Flow
from sync.engine.resend import ResendInvalid, resend_scope

FLOWS: dict[str, Flow] = {flow.name: flow for flow in (QUOTE_TO_CASH, RECEIVABLES)}


def _entities(
    mapping_set: MappingSet, target: str, flow: str | None = None, entities: tuple[str, ...] = ()
) -> list[str]:
    scope = resend_scope(mapping_set, FLOWS, target, flow=flow, entities=entities)
    return [item.entity for item in scope.entities]


def test_billing_takes_both_flows_entities_parents_first(mapping_set: MappingSet) -> None:
    entities = _entities(mapping_set, "billing")

    assert entities[:2] == ["account", "product"]
    assert entities.index("contract") < entities.index("subscription")
    assert entities[-3:] == ["invoice", "payment", "credit_memo"]  # the receivables flow's


def test_a_target_never_gets_the_entities_it_is_system_of_record_for(
    mapping_set: MappingSet,
) -> None:
    assert "invoice" not in _entities(mapping_set, "erp")
    assert _entities(mapping_set, "salesforce") == ["invoice", "payment", "credit_memo"]


def test_flow_and_entity_options_narrow_the_scope(mapping_set: MappingSet) -> None:
    assert _entities(mapping_set, "billing", flow="receivables")[0] == "invoice"
    assert _entities(mapping_set, "billing", entities=("order", "account")) == ["account", "order"]


def test_a_narrowed_scope_still_clears_every_position_of_the_target(
    mapping_set: MappingSet,
) -> None:
    scope = resend_scope(mapping_set, FLOWS, "billing", entities=["order"])

    assert scope.flow_name == "resend:billing"
    assert scope.flows == ("quote-to-cash",)
    assert len(scope.every) > len(scope.entities) == 1


@pytest.mark.parametrize(
    ("target", "flow", "entities", "message"),
    [
        ("nowhere", None, (), "no flow writes to 'nowhere'; targets: billing, erp, salesforce"),
        ("billing", "nope", (), "no flow 'nope'; configured: quote-to-cash, receivables"),
        ("salesforce", "quote-to-cash", (), "flow quote-to-cash does not write to salesforce"),
        ("billing", None, ("invoice_line",), "billing takes no invoice_line here"),
        ("erp", None, ("invoice",), "erp takes no invoice here"),
    ],
)
def test_options_that_name_nothing_to_resend_are_refused(
    mapping_set: MappingSet,
    target: str,
    flow: str | None,
    entities: tuple[str, ...],
    message: str,
) -> None:
    with pytest.raises(ResendInvalid, match="^" + message):
        resend_scope(mapping_set, FLOWS, target, flow=flow, entities=entities)
