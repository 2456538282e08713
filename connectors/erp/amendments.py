"""Subscription amendments as NetSuite keeps them: a change merged into the sales order it
amends, and the credit memo a cancellation raises.

The ERP mapping chooses how an amendment order reaches NetSuite (``mappings/erp.yaml``; the
settings are described in ``mappings/README.md``, "Amendments, renewals and cancellations"):

- **delta**: a sales order of its own holding the change, linked to the order it changes by a
  custom body field. A plain upsert; nothing here.
- **update the original**: the payload names the original sales order by ``internalId`` (the
  mapping resolves it through the xref, so an amendment whose original is not in NetSuite yet
  waits for it). Each of its lines names the original line it changes by the CPQ line number
  that line carries (``custcol_rb_revises`` against ``custcol_rb_line``), with the quantity
  after the change and the change's effective date (``custcol_rb_as_of``). The connector reads
  the original (``getList``), sets each named line's quantity, closes (``isClosed``) a line
  whose quantity reaches 0, adds the lines that revise nothing (add-ons), and upserts the
  original under its own externalId with ``replaceAll="false"``, so the lines it does not name
  are left alone. A line keeps the date of the change it shows: an older change that arrives
  later leaves it as it is, so the order of capture does not matter, and replaying a change
  sets the same values again.

A cancellation's credit: the mapping marks each cancelled line with the amount to credit
(``custcol_rb_credit``, the unused part) and the units (``custcol_rb_credit_quantity``); the
connector writes a ``CreditMemo`` of those lines beside the sales order, under the order's
externalId and ``-credit``, so a retry finds it again instead of raising a second one. The
order's result is the worse of the two, so a refused credit memo keeps the order in the error
queue until both have landed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import WriteOutcome, WriteResult
from connectors.erp.custom import unpacked

SALES_ORDER = "SalesOrder"
CREDIT_MEMO = "CreditMemo"
CREDIT_SUFFIX = "-credit"
CREDIT_MEMO_TEXT = "Unused part of cancelled subscriptions"
CREDIT_KEY = "custcol_rb_credit"
CREDIT_UNITS_KEY = "custcol_rb_credit_quantity"
LINE_KEY = "custcol_rb_line"
REVISES_KEY = "custcol_rb_revises"
AS_OF_KEY = "custcol_rb_as_of"

# (internalIds) -> the sales orders NetSuite holds, as plain records, missing ones left out.
FetchOrders = Callable[[Sequence[str]], list[dict[str, Any]]]
# One upsert of a sales order payload -> its result.
UpsertOrder = Callable[[Mapping[str, Any]], WriteResult]


def changes_original(object_name: str, payload: Mapping[str, Any]) -> bool:
    """True for an amendment meant to change the sales order it names by ``internalId``."""
    return object_name == SALES_ORDER and bool(payload.get("internalId"))


def credit_memo_of(object_name: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The credit memo a sales order's cancelled lines raise, or None when none is marked."""
    if object_name != SALES_ORDER:
        return None
    lines = [_credit_line(line) for line in (payload.get("itemList") or {}).get("item") or []]
    credited = [line for line in lines if line is not None]
    if not credited:
        return None
    memo: dict[str, Any] = {
        "externalId": f"{payload.get('externalId', '')}{CREDIT_SUFFIX}",
        "entity": payload.get("entity"),
        "tranDate": min(str(line.pop(AS_OF_KEY)) for line in credited),
        "memo": CREDIT_MEMO_TEXT,
        "itemList": {"item": credited},
    }
    if payload.get("currency"):
        memo["currency"] = payload["currency"]
    return memo


def _credit_line(line: Mapping[str, Any]) -> dict[str, Any] | None:
    amount = _decimal(line.get(CREDIT_KEY))
    if amount is None:
        return None
    credit: dict[str, Any] = {"item": line.get("item"), "amount": str(amount)}
    units = _decimal(line.get(CREDIT_UNITS_KEY))
    if units:
        credit["quantity"] = str(units)
        credit["rate"] = format((amount / units).normalize(), "f")
    credit[AS_OF_KEY] = line.get(AS_OF_KEY) or ""
    return credit


def combined(order: WriteResult | None, memo: WriteResult | None) -> WriteResult | None:
    """The order's result once its credit memo is counted: a refused memo refuses the order,
    and one held back for a later call holds the order back too."""
    if order is None or memo is None:
        return None
    if memo.ok or not order.ok:
        return order
    return WriteResult(
        order.external_id,
        WriteOutcome.REJECTED,
        error_code=memo.error_code,
        error_message=f"the sales order landed but its credit memo did not: {memo.error_message}",
        error_fields=memo.error_fields,
    )


@dataclass(frozen=True)
class _Refusal:
    code: str
    message: str


def apply_changes(
    payloads: Sequence[Mapping[str, Any]], fetch: FetchOrders, upsert: UpsertOrder
) -> list[WriteResult]:
    """Merge each amendment into the sales order it names; one result per payload, in order.

    Amendments of one original are merged together, oldest change first, into one upsert.
    """
    originals = {str(o.get("internalId")): o for o in fetch(_internal_ids(payloads))}
    results: dict[int, WriteResult] = {}
    for internal_id, positions in _by_original(payloads).items():
        original = originals.get(internal_id)
        if original is None:
            refusal = _Refusal(
                "RCRD_DSNT_EXIST",
                f"the sales order {internal_id} this amendment changes is not in NetSuite "
                "(deleted there?); resend the original order first",
            )
            results.update({p: _refused(payloads[p], refusal) for p in positions})
            continue
        results.update(_merge_into(original, [(p, payloads[p]) for p in positions], upsert))
    return [results[position] for position in range(len(payloads))]


def _internal_ids(payloads: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({str(payload["internalId"]) for payload in payloads})


def _by_original(payloads: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for position, payload in enumerate(payloads):
        grouped.setdefault(str(payload["internalId"]), []).append(position)
    return grouped


def _merge_into(
    original: Mapping[str, Any],
    amendments: list[tuple[int, Mapping[str, Any]]],
    upsert: UpsertOrder,
) -> dict[int, WriteResult]:
    lines = _OrderLines((original.get("itemList") or {}).get("item") or [])
    results: dict[int, WriteResult] = {}
    merged: list[tuple[int, Mapping[str, Any]]] = []
    for position, payload in sorted(amendments, key=lambda item: _as_of(item[1])):
        refusal = lines.apply((payload.get("itemList") or {}).get("item") or [])
        if refusal is not None:
            results[position] = _refused(payload, refusal)
        else:
            merged.append((position, payload))
    if not merged:
        return results
    if not lines.changed():  # every change is older than what the lines show: nothing to send
        landed = WriteResult(str(original["externalId"]), WriteOutcome.UPSERTED)
        return results | {position: _answered(payload, landed) for position, payload in merged}
    body = {
        "externalId": original["externalId"],
        "itemList": {"replaceAll": False, "item": lines.changed()},
    }
    answer = upsert(body)
    for position, payload in merged:
        results[position] = _answered(payload, answer)
    return results


class _OrderLines:
    """The original order's lines, keyed by the CPQ line number each carries, as changed."""

    def __init__(self, lines: Sequence[Mapping[str, Any]]) -> None:
        # Read back, a line's custom fields sit in its customFieldList: make them keys.
        self._lines = [unpacked(dict(line)) for line in lines]
        self._by_key = {_key(line.get(LINE_KEY)): line for line in self._lines}
        self._changed: dict[str, dict[str, Any]] = {}  # key -> line to send

    def apply(self, changes: Sequence[Mapping[str, Any]]) -> _Refusal | None:
        """Apply one amendment's lines, or say why it cannot be applied (nothing changes)."""
        staged: dict[str, dict[str, Any]] = {}
        for change in changes:
            revises = _key(change.get(REVISES_KEY))
            if revises and revises not in self._by_key:
                return _Refusal(
                    "INVALID_KEY_OR_REF",
                    f"the sales order has no line {revises} (custcol_rb_line) for this "
                    "amendment to change",
                )
            key = revises or _key(change.get(LINE_KEY))
            current = self._by_key.get(key) or {}
            if current and _as_of(change) < _as_of(current):
                continue  # a later change already shows on the line
            staged[key] = _changed_line(current, change, revises)
        for key, line in staged.items():
            self._by_key[key] = {**self._by_key.get(key, {}), **line}
            self._changed[key] = line
        return None

    def changed(self) -> list[dict[str, Any]]:
        return list(self._changed.values())


def _changed_line(
    current: Mapping[str, Any], change: Mapping[str, Any], revises: str
) -> dict[str, Any]:
    """What to send for one line: the quantity after the change, closed at 0."""
    line = {k: v for k, v in change.items() if k != REVISES_KEY}
    if current.get("line"):
        line["line"] = current["line"]
    if revises:
        # The line keeps its item (NetSuite refuses changing it) and its CPQ line number.
        line.pop("item", None)
        line.pop(LINE_KEY, None)
    quantity = _decimal(change.get("quantity"))
    closing = quantity is not None and quantity <= 0
    if closing:
        line.pop("quantity", None)  # a closed line keeps what was sold; it bills no more
        line.pop("amount", None)
    line["isClosed"] = closing
    return line


def resent_original(payload: Mapping[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """A sales order sent again (a resend, a mapping change) as an update that keeps what
    amendments changed on it since: a line showing a newer change than the payload's keeps
    it, a line an amendment added stays, a line that left the order at its source is closed,
    the rest is updated by line number. Unchanged when no amendment touched the order (the
    whole item list is replaced, as for any upsert)."""
    current = {_key(line.get(LINE_KEY)): line for line in _read_lines(existing)}
    sent = (payload.get("itemList") or {}).get("item") or []
    keys = {_key(line.get(LINE_KEY)) for line in sent}
    newer = {
        key
        for line in sent
        if (key := _key(line.get(LINE_KEY))) in current and _as_of(current[key]) > _as_of(line)
    }
    # A line the payload lacks was added by an amendment when it shows a later change than the
    # order's own lines; otherwise it left the order at its source and goes.
    began = min((_as_of(line) for line in sent), default="")
    added = {k for k, line in current.items() if k and k not in keys and _as_of(line) > began}
    if not newer and not added:
        return dict(payload)
    gone = [
        {"line": line["line"], "isClosed": True}
        for key, line in current.items()
        if key not in keys and key not in added and line.get("line")
    ]
    lines = []
    for line in sent:
        key = _key(line.get(LINE_KEY))
        if key in newer:
            continue  # an amendment's change shows on it: keep it
        kept = current.get(key)
        lines.append({**line, "line": kept["line"]} if kept and kept.get("line") else dict(line))
    return {**payload, "itemList": {"replaceAll": False, "item": lines + gone}}


def _read_lines(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [unpacked(dict(line)) for line in (record.get("itemList") or {}).get("item") or []]


def _as_of(record: Mapping[str, Any]) -> str:
    """A line's (or an amendment's first line's) effective date, ISO, for ordering."""
    if AS_OF_KEY in record:
        return str(record.get(AS_OF_KEY) or "")[:10]
    lines = (record.get("itemList") or {}).get("item") or []
    return min((_as_of(line) for line in lines), default="")


def _key(value: Any) -> str:
    """A line number as sent (``201``) and as read back from a custom field (``201.0``)."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    return format(number.normalize(), "f")


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _answered(payload: Mapping[str, Any], answer: WriteResult) -> WriteResult:
    """The amendment's own result from the original's upsert. It has no NetSuite record of its
    own, so it keeps its externalId as its id (the original's internalId is the original's)."""
    external_id = str(payload.get("externalId", ""))
    if answer.ok:
        return WriteResult(external_id, WriteOutcome.UPSERTED)
    return WriteResult(
        external_id,
        WriteOutcome.REJECTED,
        error_code=answer.error_code,
        error_message=answer.error_message,
        error_fields=answer.error_fields,
    )


def _refused(payload: Mapping[str, Any], refusal: _Refusal) -> WriteResult:
    return WriteResult(
        str(payload.get("externalId", "")),
        WriteOutcome.REJECTED,
        error_code=refusal.code,
        error_message=refusal.message,
    )
