"""The findings page: what reconcile saw wrong, filtered, each linked to its record's journey,
and acknowledged with a note (support role; audited with the acknowledgement).

The filters are plain query parameters, so a view can be bookmarked; the acknowledgement is a
form post carrying the session's CSRF token, like every state change in the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from sync.assurance.values import to_major
from sync.console.auth import SupportUser, ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.console.schemas import MAX_ID
from sync.console.views.pages_values import NO_NUL, value_text
from sync.store.audit import Actor, ActorKind
from sync.store.finding_actions import FindingActionRefused, FindingNotFound, acknowledge_finding
from sync.store.findings import FindingFilter, FindingKind, StoredFinding, list_findings

router = APIRouter()
SHOWN_ROWS = 500
_VALUE_CHARS = 200
_NAME = r"^[A-Za-z0-9_.\-]*$"
# Any kind there is, or "" for every kind (the filter form's "any").
_KINDS = "^(" + "|".join(kind.value for kind in FindingKind) + ")?$"


@dataclass(frozen=True)
class FindingsView:
    """The filters of the list, as the query string gave them ("" means any)."""

    kind: str = ""
    flow: str = ""
    entity: str = ""
    status: Literal["open", "all"] = "open"

    def where(self) -> FindingFilter:
        """The store's filter for these choices."""
        return FindingFilter(
            flow=self.flow or None,
            entity=self.entity or None,
            kind=FindingKind(self.kind) if self.kind else None,
            include_resolved=self.status == "all",
        )


def findings_view(
    kind: Annotated[str, Query(max_length=40, pattern=_KINDS)] = "",
    flow: Annotated[str, Query(max_length=80, pattern=NO_NUL)] = "",
    entity: Annotated[str, Query(max_length=40, pattern=_NAME)] = "",
    status: Literal["open", "all"] = "open",
) -> FindingsView:
    """The filters from the query string; FastAPI refuses values outside these shapes (422)."""
    return FindingsView(kind, flow, entity, status)


@dataclass(frozen=True)
class FindingLine:
    """One finding as a row: values cut to a readable length, amounts in major units."""

    stored: StoredFinding
    journey_url: str | None
    expected: str
    actual: str
    at_risk: str
    reporting_at_risk: str


def _short(value: object) -> str:
    text = value_text(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _amount(minor: int | None, currency: str | None) -> str:
    if minor is None or currency is None:
        return "-"
    return f"{format(to_major(minor, currency), 'f')} {currency}"


def finding_line(stored: StoredFinding) -> FindingLine:
    """The row of one finding; the journey is found by canonical id, else the system's id."""
    finding = stored.finding
    record = finding.canonical_id or finding.system_ids.get(finding.system)
    return FindingLine(
        stored=stored,
        journey_url=f"/journey?{urlencode({'id': record})}" if record else None,
        expected=_short(finding.expected_value),
        actual=_short(finding.actual_value),
        at_risk=_amount(finding.amount_at_risk_minor, finding.currency),
        reporting_at_risk=_amount(finding.reporting_amount_minor, finding.reporting_currency),
    )


@router.get("/findings", response_class=HTMLResponse)
def findings_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    view: Annotated[FindingsView, Depends(findings_view)],
) -> HTMLResponse:
    """Open findings (or all), newest reconcile's first-seen order, with the filters."""
    with context.store.engine.connect() as connection:
        rows = list_findings(connection, view.where(), limit=SHOWN_ROWS + 1)
    values = {
        "lines": [finding_line(row) for row in rows[:SHOWN_ROWS]],
        "more": len(rows) > SHOWN_ROWS,
        "filters": view,
        "kinds": [kind.value for kind in FindingKind],
        "can_act": user.may("support"),
    }
    return render(request, "pages/findings.html", values)


@router.post("/findings/{finding_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge(
    request: Request,
    user: SupportUser,
    context: Context,
    finding_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> HTMLResponse:
    """Acknowledge one open finding with a note; one line says what happened."""
    form = await request.form()
    note = form.get("note")
    back = {"back_url": "/findings", "back_label": "Back to the findings"}
    heading = f"Acknowledge finding {finding_id}"
    try:
        with context.store.transaction() as connection:
            actor = Actor(user.name, ActorKind.CONSOLE_USER)
            text = note if isinstance(note, str) else ""
            acknowledge_finding(connection, finding_id, actor=actor, note=text)
    except FindingActionRefused as refused:
        status = 404 if isinstance(refused, FindingNotFound) else 400
        page = {"heading": heading, "lines": [f"Nothing was done: {refused}."], "problem": True}
        return render(request, "pages/action_result.html", {**page, **back}, status)
    lines = [f"Finding {finding_id} is acknowledged by {user.name}; it resolves when fixed."]
    page = {"heading": heading, "lines": lines, "problem": False, **back}
    return render(request, "pages/action_result.html", page)
