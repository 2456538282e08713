"""What ``revbridge mappings check`` adds to the loader's checks: the live field check against
the systems, and the report as JSON or as lines (problems on stdout, the verdict on stderr)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.text import Text

from connectors.erp.connector import ErpConnector
from connectors.errors import ConnectorError
from connectors.salesforce.connector import SalesforceConnector
from mappings.mapping_set import MappingSet
from sync.cli.common import console, err_console, fail, settings_from
from sync.engine.connections import open_connectors
from sync.tools.live_check import LiveReport, check_live
from sync.tools.positions import MappingPositions


def check_live_fields(paths: Sequence[Path], mappings: MappingSet, config: Path) -> LiveReport:
    """Mapped field names and types against Salesforce's describe and the ERP's WSDL."""
    settings = settings_from(config)
    try:
        with open_connectors(settings) as connectors:
            salesforce, erp = connectors["salesforce"], connectors["erp"]
            return check_live(
                mappings,
                MappingPositions(paths),
                salesforce.describe if isinstance(salesforce, SalesforceConnector) else None,
                erp.record_type if isinstance(erp, ErpConnector) else None,
            )
    except ConnectorError as error:
        raise fail(f"live check stopped: {error}") from None


def check_json(paths: Sequence[Path], report: LiveReport) -> dict[str, object]:
    """The report as plain data for ``--json``."""
    return {
        "files": [str(path) for path in paths],
        "problems": [
            {"file": p.file, "line": p.line, "column": p.column, "message": p.message}
            for p in report.problems
        ],
        "notes": report.notes,
    }


def print_check(paths: Sequence[Path], report: LiveReport) -> None:
    """Each problem as ``file:line:col: message`` and each note; then the verdict."""
    for problem in report.problems:
        console.print(str(problem), highlight=False, markup=False, soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", style="yellow", highlight=False, markup=False)
    count = len(report.problems)
    if not count:
        console.print(f"{len(paths)} mapping files, no problems", style="bold")
        return
    # The problems go to stdout (for grep); the verdict, like every failure's, to stderr.
    summary = (
        f"{count} problem{'s' * (count != 1)} in {len(paths)} mapping files; fix each at its "
        "file:line:col, then run `revbridge mappings check` again"
    )
    err_console.print(Text(summary, style="bold"))
