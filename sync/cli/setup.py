"""``revbridge init`` and ``revbridge check``: start a project, then prove it can run.

``check`` exit codes: 0 all checks passed; 2 configuration or mappings invalid; 3 a system
refused the credentials; 4 a system is unreachable or misconfigured; 5 the state store can't
be opened. It exits with the first failure in table order (see :mod:`sync.tools.system_check`).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from config.loader import ConfigInvalid, overrides_in_effect
from config.redaction import install_redaction
from config.settings import BillingProfile
from sync.cli.common import console, err_console, fail, load_checked_settings
from sync.cli.scaffold import CONFIG_FILE, PROFILES, scaffold_project
from sync.tools.system_check import (
    EXIT_CONFIG,
    EXIT_STORE,
    CheckRow,
    CheckStatus,
    check_connections,
    check_mappings,
    check_store,
    first_failure,
)

_CONFIG_CANDIDATES = (Path("revbridge.yaml"), CONFIG_FILE)
_NEXT_STEP = {
    EXIT_CONFIG: "fix the lines above, then run `revbridge check` again",
    3: "check the secrets in the environment (see .env.example) and the usernames in the config",
    4: "check the URLs in the config, and that this host can reach the system",
    EXIT_STORE: "check database_url, and that the database server is up and reachable",
}
_STATUS_STYLE = {
    CheckStatus.OK: ("ok", "green"),
    CheckStatus.WARNING: ("warning", "yellow"),
    CheckStatus.FAILED: ("FAILED", "bold red"),
}


def register(app: typer.Typer) -> None:
    """Add ``init`` and ``check`` to ``app``."""
    app.command("init")(init)
    app.command("check")(check)


def init(
    directory: Annotated[Path, typer.Argument(help="Project folder (created if missing).")] = Path(
        "."
    ),
    from_sandbox: Annotated[
        Path | None,
        typer.Option(
            "--from-sandbox",
            help="Config written by `revbridge sandbox`: also write .env pointing at it.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="Billing API: json (generic JSON API) or stripe (Stripe's mappings, flows and "
            "delete policies).",
        ),
    ] = "json",
) -> None:
    """Write config/revbridge.yaml, the mappings and .env.example into DIRECTORY."""
    billing_profile = _billing_profile(profile)
    if from_sandbox is not None and billing_profile != "json":
        raise fail("--from-sandbox sets up the generic billing sandbox; leave out --profile")
    sandbox_document = _read_sandbox_document(from_sandbox) if from_sandbox else None
    result = scaffold_project(
        directory, force=force, sandbox_document=sandbox_document, profile=billing_profile
    )
    for path in result.written:
        console.print(Text(f"  wrote {path}"))
    for path in result.kept:
        console.print(Text(f"  kept  {path} (exists; --force overwrites)"))
    env_step = (
        "set -a; . ./.env; set +a          # sandbox credentials, written by --from-sandbox"
        if sandbox_document is not None
        else "cp .env.example .env            # fill in the secrets, then: set -a; . ./.env; set +a"
    )
    console.print(
        Text(
            "\nNext steps:\n"
            f"  cd {directory}\n"
            f"  {env_step}\n"
            f"  revbridge check -c {CONFIG_FILE}    # config, mappings, each system, the store\n"
            f"  revbridge run -c {CONFIG_FILE}      # one sync now\n"
            f"  revbridge serve -c {CONFIG_FILE}    # every flow on its schedule\n"
        )
    )


def _billing_profile(name: str) -> BillingProfile:
    """``name`` as a billing profile, or exit 2 with one line naming the choices."""
    if name in PROFILES:
        return name
    close = difflib.get_close_matches(name, PROFILES, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise fail(f"unknown --profile {name!r}{hint}; choose {' or '.join(PROFILES)}")


def _read_sandbox_document(path: Path) -> dict[str, Any]:
    try:
        document = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as error:
        err_console.print(Text(f"error: cannot read sandbox config {path}: {error}"))
        raise typer.Exit(EXIT_CONFIG) from None
    if not isinstance(document, dict):
        err_console.print(Text(f"error: {path} is not a revbridge sandbox config"))
        raise typer.Exit(EXIT_CONFIG)
    return document


def check(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration file (default: revbridge.yaml, else config/revbridge.yaml).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Validate config and mappings, then check each system's login and the state store."""
    path = config or next((c for c in _CONFIG_CANDIDATES if c.exists()), _CONFIG_CANDIDATES[0])
    _finish(_run_checks(path), as_json)


def _run_checks(path: Path) -> list[CheckRow]:
    try:
        settings = load_checked_settings(path)
    except ConfigInvalid as error:
        return [CheckRow("configuration", CheckStatus.FAILED, str(error), EXIT_CONFIG)]
    redactor = install_redaction(settings)
    flows = ", ".join(flow.name for flow in settings.flows)
    rows = [CheckRow("configuration", CheckStatus.OK, f"{path} valid; flows: {flows}")]
    rows += _override_rows(path)
    rows.append(check_mappings(settings))
    if rows[-1].status is CheckStatus.FAILED:
        return rows
    rows.extend(check_connections(settings, redactor))
    rows.append(check_store(settings.database_url))
    return rows


def _override_rows(path: Path) -> list[CheckRow]:
    """Settings a REVBRIDGE_* variable sets: an edit to the file's value has no effect."""
    overrides = overrides_in_effect(path)
    if not overrides:
        return []
    lines = [
        f"{o.setting} from {o.variable}"
        + (f" (the file's value at {o.shadowed} is not used)" if o.shadowed else "")
        for o in overrides
    ]
    shadowing = any(o.shadowed for o in overrides)
    status = CheckStatus.WARNING if shadowing else CheckStatus.OK
    return [CheckRow("environment overrides", status, "\n".join(lines))]


def _finish(rows: list[CheckRow], as_json: bool) -> None:
    failure = first_failure(rows)
    if as_json:
        print(json.dumps({"checks": [row.to_json() for row in rows]}))
    else:
        console.print(_table(rows))
    if failure is None:
        return
    first_line = failure.detail.splitlines()[0] if failure.detail else ""
    # One line, the problem then what to do, so the last line of any failure says both.
    next_step = failure.next_step or _NEXT_STEP.get(failure.exit_code, "")
    message = f"error: {failure.name}: {first_line}; next: {next_step}"
    err_console.print(Text(message, style="red"))
    raise typer.Exit(failure.exit_code)


def _table(rows: list[CheckRow]) -> Table:
    table = Table(title="revbridge check")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for row in rows:
        label, style = _STATUS_STYLE[row.status]
        table.add_row(Text(row.name), Text(label, style=style), Text(row.detail))
    return table
