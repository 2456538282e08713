"""The ERP sandbox applies a customer payment to the invoices in its applyList, as NetSuite does."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from sandboxes.erp.store import ErpStore


@pytest.fixture
def store() -> ErpStore:
    ticks = itertools.count(1_767_225_600)
    erp = ErpStore(clock=lambda: float(next(ticks)))
    for customer in ("c1", "c2"):
        erp.upsert("Customer", {"externalId": customer, "companyName": customer.upper()})
    erp.upsert("Invoice", _invoice("inv-1", "c1", "100.00"))
    erp.upsert("Invoice", _invoice("inv-2", "c1", "50.00"))
    erp.upsert("Invoice", _invoice("inv-3", "c2", "80.00"))
    return erp


def _invoice(external_id: str, customer: str, total: str) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "tranId": external_id.upper(),
        "entity": {"externalId": customer},
        "total": total,
        "status": "Open",
    }


def _doc(store: ErpStore, external_id: str) -> str:
    return str(store.records[("Invoice", external_id)]["internalId"])


def _payment(store: ErpStore, external_id: str, *lines: tuple[str, str | None]) -> dict[str, Any]:
    applied = [
        {"apply": "true", "doc": _doc(store, invoice), **({"amount": amount} if amount else {})}
        for invoice, amount in lines
    ]
    return {
        "externalId": external_id,
        "customer": {"externalId": "c1"},
        "applyList": {"apply": applied},
    }


def _amounts(store: ErpStore, external_id: str) -> tuple[str, str, str]:
    invoice = store.records[("Invoice", external_id)]
    return invoice["amountPaid"], invoice["amountRemaining"], invoice["status"]


def test_a_payment_pays_one_invoice_in_full_and_another_in_part(store: ErpStore) -> None:
    before = store.records[("Invoice", "inv-1")]["lastModifiedDate"]

    outcome = store.upsert("CustomerPayment", _payment(store, "pay-1", ("inv-1", None),
                                                       ("inv-2", "20.00")))  # fmt: skip

    assert outcome.ok
    assert _amounts(store, "inv-1") == ("100.00", "0.00", "Paid In Full")
    assert _amounts(store, "inv-2") == ("20.00", "30.00", "Open")
    assert store.records[("Invoice", "inv-1")]["lastModifiedDate"] > before
    saved = store.records[("CustomerPayment", "pay-1")]
    assert saved["payment"] == "120.00"  # NetSuite sums what is applied when no amount is given
    assert [line["amount"] for line in saved["applyList"]["apply"]] == ["100.00", "20.00"]


def test_the_same_payment_sent_again_is_not_applied_twice(store: ErpStore) -> None:
    payment = _payment(store, "pay-1", ("inv-2", "20.00"))
    store.upsert("CustomerPayment", payment)
    stamp = store.records[("Invoice", "inv-2")]["lastModifiedDate"]

    assert store.upsert("CustomerPayment", payment).ok

    assert _amounts(store, "inv-2") == ("20.00", "30.00", "Open")
    assert store.records[("Invoice", "inv-2")]["lastModifiedDate"] == stamp


def test_a_changed_payment_replaces_what_it_applied_and_keeps_other_payments(
    store: ErpStore,
) -> None:
    store.upsert("CustomerPayment", _payment(store, "pay-1", ("inv-2", "20.00")))
    store.upsert("CustomerPayment", _payment(store, "pay-2", ("inv-2", "10.00")))

    store.upsert("CustomerPayment", _payment(store, "pay-1", ("inv-1", "5.00")))

    assert _amounts(store, "inv-2") == ("10.00", "40.00", "Open")
    assert _amounts(store, "inv-1") == ("5.00", "95.00", "Open")


def test_deleting_a_payment_reopens_its_invoice(store: ErpStore) -> None:
    store.upsert("CustomerPayment", _payment(store, "pay-1", ("inv-1", None)))

    store.delete("CustomerPayment", "pay-1")

    assert _amounts(store, "inv-1") == ("0.00", "100.00", "Open")


@pytest.mark.parametrize(
    ("lines", "code", "reason"),
    [
        ((("inv-2", "50.01"),), "USER_ERROR", "You cannot apply 50.01 to invoice INV-2"),
        ((("inv-3", "1.00"),), "INVALID_KEY_OR_REF", "no open invoice of this customer"),
        ((("inv-2", "5.00"), ("inv-2", "5.00")), "USER_ERROR", "applied twice"),
        ((("inv-2", "a lot"),), "INVALID_FLD_VALUE", "Invalid amount 'a lot'"),
    ],
)
def test_a_payment_that_cannot_be_applied_is_refused_and_changes_nothing(
    store: ErpStore, lines: tuple[tuple[str, str], ...], code: str, reason: str
) -> None:
    outcome = store.upsert("CustomerPayment", _payment(store, "pay-1", *lines))

    assert (outcome.code, outcome.ok) == (code, False)
    assert reason in outcome.message
    assert ("CustomerPayment", "pay-1") not in store.records
    assert "amountPaid" not in store.records[("Invoice", "inv-2")]


def test_a_payment_of_an_invoice_that_does_not_exist_is_refused(store: ErpStore) -> None:
    payment = {**_payment(store, "pay-1"), "applyList": {"apply": [{"apply": "true",
               "doc": "999999", "amount": "1.00"}]}}  # fmt: skip

    outcome = store.upsert("CustomerPayment", payment)

    assert (outcome.code, outcome.message) == (
        "INVALID_KEY_OR_REF",
        "Invalid doc reference key 999999.",
    )


def test_applying_more_than_the_payment_amount_is_refused(store: ErpStore) -> None:
    payment = {**_payment(store, "pay-1", ("inv-1", "60.00")), "payment": "50.00"}

    outcome = store.upsert("CustomerPayment", payment)

    assert outcome.code == "USER_ERROR"
    assert "exceeds the payment amount (50.00)" in outcome.message


def test_a_line_not_applied_pays_nothing(store: ErpStore) -> None:
    payment = _payment(store, "pay-1", ("inv-1", "10.00"))
    payment["applyList"]["apply"].append({"apply": "false", "doc": _doc(store, "inv-2")})

    store.upsert("CustomerPayment", payment)

    assert _amounts(store, "inv-1") == ("10.00", "90.00", "Open")
    assert "amountPaid" not in store.records[("Invoice", "inv-2")]


def test_an_invoice_saved_again_after_a_payment_keeps_what_was_paid(store: ErpStore) -> None:
    store.upsert("CustomerPayment", _payment(store, "pay-1", ("inv-1", "40.00")))

    store.upsert("Invoice", {"externalId": "inv-1", "total": "120.00", "amountRemaining": "0"})

    assert _amounts(store, "inv-1") == ("40.00", "80.00", "Open")
