"""What happens to invoices in the Stripe sandbox after revbridge wrote their items: billing a
customer's pending items, payment, void, write-off, refunds and credit notes, each with the
events Stripe sends for it.

Tests drive these through :class:`~sandboxes.billing.sandbox.BillingSandbox`; the API serves
the resulting invoices, payment intents, charges, credit notes and events read-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandboxes.billing.stripe.events import emit_event

if TYPE_CHECKING:
    from sandboxes.billing.stripe.store import StripeStore


class StripeReceivables:
    """Invoices, payments and credits in a :class:`StripeStore`, with their events."""

    def __init__(self, state: StripeStore) -> None:
        self._state = state

    def bill_pending_items(self, customer_id: str) -> dict[str, Any]:
        """An open invoice with one line per pending invoice item of the customer."""
        state = self._state
        pending = [
            item
            for item in state.rows["invoiceitems"].values()
            if item["customer"] == customer_id and item.get("invoice") is None
        ]
        if not pending:
            raise ValueError(f"customer {customer_id} has no pending invoice items")
        invoice_id = state.new_id("invoices")
        lines = []
        for item in pending:
            item["invoice"] = invoice_id
            line = {
                "id": state.new_id("invoice_lines"),
                "object": "line_item",
                "type": "invoiceitem",
                "invoice_item": item["id"],
                "amount": item["amount"],
                "currency": item["currency"],
                "quantity": item["quantity"],
                "description": item.get("description"),
                "price": item.get("price"),
                "metadata": dict(item.get("metadata") or {}),
            }
            lines.append(line)
        total = sum(int(line["amount"]) for line in lines)
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "created": state.tick(),
            "customer": customer_id,
            "currency": pending[0]["currency"],
            "status": "open",
            "subtotal": total,
            "tax": 0,
            "total": total,
            "amount_due": total,
            "amount_paid": 0,
            "amount_remaining": total,
            "charge": None,
            "payment_intent": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "metadata": {},
        }
        state.rows["invoices"][invoice_id] = invoice
        emit_event(state, "invoice.created", {**invoice, "status": "draft"})
        emit_event(state, "invoice.finalized", invoice)
        return invoice

    def pay_invoice(self, invoice_id: str) -> dict[str, Any]:
        """A succeeded payment intent and charge for the amount due; the invoice becomes paid."""
        state = self._state
        invoice = self._invoice(invoice_id, "open", "uncollectible")
        intent_id = state.new_id("payment_intents")
        charge = {
            "id": state.new_id("charges"),
            "object": "charge",
            "created": state.tick(),
            "amount": invoice["amount_remaining"],
            "amount_captured": invoice["amount_remaining"],
            "amount_refunded": 0,
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "invoice": invoice_id,
            "payment_intent": intent_id,
            "paid": True,
            "captured": True,
            "refunded": False,
            "refunds": {"object": "list", "data": [], "has_more": False},
            "status": "succeeded",
            "payment_method_details": {"type": "card"},
            "metadata": {},
        }
        state.rows["charges"][charge["id"]] = charge
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "created": charge["created"],
            "amount": charge["amount"],
            "amount_received": charge["amount"],
            "currency": charge["currency"],
            "customer": charge["customer"],
            "invoice": invoice_id,
            "status": "succeeded",
            "charges": {"object": "list", "data": [dict(charge)], "has_more": False},
            "metadata": {},
        }
        state.rows["payment_intents"][intent_id] = intent
        previous = {"status": invoice["status"], "amount_paid": invoice["amount_paid"]}
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_paid"] + charge["amount"],
            amount_remaining=0,
            charge=charge["id"],
            payment_intent=intent_id,
        )
        emit_event(state, "charge.succeeded", charge)
        emit_event(state, "payment_intent.succeeded", intent)
        emit_event(state, "invoice.payment_succeeded", invoice, previous)
        emit_event(state, "invoice.paid", invoice, previous)
        return charge

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        """``POST /v1/invoices/{id}/void``: nothing is owed any more (Stripe keeps the amounts)."""
        invoice = self._invoice(invoice_id, "open", "uncollectible")
        previous = {"status": invoice["status"]}
        invoice["status"] = "void"
        emit_event(self._state, "invoice.voided", invoice, previous)
        emit_event(self._state, "invoice.updated", invoice, previous)
        return invoice

    def mark_uncollectible(self, invoice_id: str) -> dict[str, Any]:
        """``POST /v1/invoices/{id}/mark_uncollectible``: written off, still owed."""
        invoice = self._invoice(invoice_id, "open")
        previous = {"status": invoice["status"]}
        invoice["status"] = "uncollectible"
        emit_event(self._state, "invoice.marked_uncollectible", invoice, previous)
        emit_event(self._state, "invoice.updated", invoice, previous)
        return invoice

    def refund_charge(self, charge_id: str, amount: int | None = None) -> dict[str, Any]:
        """``POST /v1/refunds``: ``amount`` minor units (all that is left if None) go back.

        As on Stripe, the charge's invoice keeps its status and amounts.
        """
        state = self._state
        charge = state.rows["charges"][charge_id]
        left = int(charge["amount"]) - int(charge["amount_refunded"])
        amount = left if amount is None else amount
        if not 0 < amount <= left:
            raise ValueError(f"charge {charge_id} has {left} left to refund, not {amount}")
        refund = {
            "id": state.new_id("refunds"),
            "object": "refund",
            "created": state.tick(),
            "amount": amount,
            "charge": charge_id,
            "currency": charge["currency"],
            "payment_intent": charge.get("payment_intent"),
            "status": "succeeded",
            "metadata": {},
        }
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        emit_event(state, "charge.refunded", charge, previous)
        return refund

    def credit_invoice(self, invoice_id: str, amount: int, reason: str) -> dict[str, Any]:
        """An issued credit note of ``amount`` minor units against the invoice."""
        state = self._state
        invoice = state.rows["invoices"][invoice_id]
        note_id = state.new_id("credit_notes")
        note = {
            "id": note_id,
            "object": "credit_note",
            "created": state.tick(),
            "number": f"CN-{note_id[-4:]}",
            "amount": amount,
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "invoice": invoice_id,
            "reason": reason,
            "status": "issued",
            "metadata": {},
        }
        state.rows["credit_notes"][note_id] = note
        emit_event(state, "credit_note.created", note)
        return note

    def void_credit_note(self, note_id: str) -> dict[str, Any]:
        """``POST /v1/credit_notes/{id}/void``: the credit no longer applies."""
        note = self._state.rows["credit_notes"][note_id]
        if note["status"] != "issued":
            raise ValueError(f"credit note {note_id} is {note['status']}, not issued")
        note["status"] = "void"
        emit_event(self._state, "credit_note.voided", note, {"status": "issued"})
        return note

    def resend_event(self, event_id: str) -> dict[str, Any]:
        """Send an old event again, as a new event with its old snapshot (late, out of order)."""
        old = self._state.rows["events"][event_id]
        data = old["data"]
        return emit_event(self._state, old["type"], data["object"], data.get("previous_attributes"))

    def _invoice(self, invoice_id: str, *statuses: str) -> dict[str, Any]:
        invoice = self._state.rows["invoices"][invoice_id]
        if invoice["status"] not in statuses:
            raise ValueError(f"invoice {invoice_id} is {invoice['status']}, not {statuses}")
        return invoice
