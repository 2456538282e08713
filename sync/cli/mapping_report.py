"""Rich renderings for ``revbridge mappings``: fixture results, previews and impact tables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sync.tools.fixtures import FixtureResult
from sync.tools.impact import CANONICAL, Impact
from sync.tools.payload_values import render
from sync.tools.preview import Preview


def diff_text(diff: str) -> Text:
    """A unified diff or message, removed lines red and added lines green."""
    text = Text()
    for line in diff.splitlines():
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        text.append(line + "\n", style=style)
    text.rstrip()
    return text


def fixture_lines(result: FixtureResult) -> list[RenderableType]:
    """A PASS/FAIL line for one fixture, then what differed."""
    if result.passed:
        checked = ", ".join(result.checked) or "maps without error"
        return [Text.assemble(("PASS ", "bold green"), result.name, (f"  ({checked})", "dim"))]
    lines: list[RenderableType] = [
        Text.assemble(("FAIL ", "bold red"), result.name, (f"  {result.source}", "dim"))
    ]
    lines += [Panel(diff_text(failure), border_style="red") for failure in result.failures]
    return lines


def _json_panel(title: str, value: object, style: str = "blue") -> Panel:
    return Panel(Text(render(value)), title=title, title_align="left", border_style=style)


def preview_panels(preview: Preview) -> list[RenderableType]:
    """The fetched record, its canonical form, each payload and the unresolved refs."""
    head = f"{preview.system} {preview.object_name} {preview.record_id} -> {preview.entity}"
    panels: list[RenderableType] = [_json_panel(f"{head}: as read", preview.raw, "dim")]
    if preview.error is not None:
        panels.append(Panel(Text(preview.error), title="does not map", border_style="red"))
    else:
        panels.append(_json_panel(f"canonical {preview.entity}", preview.canonical, "green"))
    for system, payload in preview.payloads.items():
        panels.append(_json_panel(f"{system} payload (not sent)", payload))
    for system, message in preview.payload_errors.items():
        panels.append(Panel(Text(message), title=f"{system}: does not map", border_style="red"))
    if preview.unresolved:
        listed = "\n".join(f"- {ref}" for ref in preview.unresolved)
        text = Text(f"{listed}\nShown as <unresolved ...>; a run would defer this record.")
        panels.append(Panel(text, title="unresolved refs", border_style="yellow"))
    return panels


def impact_table(impacts: Sequence[Impact]) -> Table:
    """One row per entity and target: how many stored records' output would change."""
    table = Table(title="impact on the stored records (nothing was written)")
    for column in ("entity", "output", "records", "would change", "unchanged"):
        table.add_column(column, justify="right" if column[0] in "rwu" else "left")
    table.add_column("fail old/new", justify="right")
    table.add_column("note")
    for impact in impacts:
        output = "canonical record" if impact.system == CANONICAL else f"{impact.system} payload"
        changed = Text(str(impact.changed), style="bold yellow" if impact.changed else "")
        table.add_row(
            impact.entity,
            output,
            str(impact.records),
            changed,
            str(impact.unchanged),
            f"{impact.failing_old}/{impact.failing_new}",
            impact.note,
        )
    return table


def impact_samples(impacts: Sequence[Impact]) -> RenderableType:
    """A few records per row whose output changes, with the changed fields."""
    lines = Text()
    for impact in impacts:
        output = "canonical" if impact.system == CANONICAL else impact.system
        for sample in impact.samples:
            lines.append(f"{impact.entity} -> {output}  {sample.record}\n", style="bold")
            for change in sample.changes:
                lines.append(f"    {change}\n")
            if sample.note:
                lines.append(f"    {sample.note}\n", style="yellow")
    return Group(Text("sample changes", style="bold underline"), lines) if lines else Text("")
