"""``revbridge init``: write a project a new user edits (config, mappings, ``.env.example``)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from mappings.loader import shipped_mapping_files

CONFIG_FILE = Path("config") / "revbridge.yaml"
MAPPINGS_DIR = Path("mappings")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ONLY_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@%+,=-]*")
_CONNECTIONS = ("salesforce", "billing", "erp")
_GITIGNORE = (
    "# revbridge: secrets and local state stay out of version control\n.env\n*.db\n*.db-*\n"
)

# What each secret is, for .env.example; a variable missing here is still listed.
SECRET_HINTS = {
    "SF_PASSWORD": "Salesforce integration user's password",
    "SF_SECURITY_TOKEN": "Salesforce security token (Settings > Reset My Security Token)",
    "SF_CLIENT_ID": "connected app consumer key",
    "SF_CLIENT_SECRET": "connected app consumer secret",
    "BILLING_API_KEY": "billing API key (a restricted key with customer/invoice write access)",
    "NS_CONSUMER_KEY": "NetSuite integration record consumer key (token-based auth)",
    "NS_CONSUMER_SECRET": "NetSuite integration record consumer secret",
    "NS_TOKEN_ID": "NetSuite access token id",
    "NS_TOKEN_SECRET": "NetSuite access token secret",
    "ALERT_WEBHOOK_URL": "Slack-compatible incoming webhook for failed runs (optional)",
}


@dataclass
class ScaffoldResult:
    """What ``init`` wrote, and what it left alone because it already existed."""

    root: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def config_template() -> str:
    """The commented ``revbridge.yaml`` a new project starts from."""
    return resources.files("sync.cli.templates").joinpath("revbridge.yaml").read_text("utf-8")


def env_example(template: str) -> str:
    """``.env.example``: every ``${VAR}`` the config references; commented-out ones stay so."""
    lines = [
        "# Secrets for config/revbridge.yaml. Copy to .env (never commit it), fill in, then",
        "#   set -a; . ./.env; set +a",
        "# Any setting can be overridden too: REVBRIDGE_<SECTION>__<KEY>=value, e.g.",
        "# REVBRIDGE_DATABASE_URL=postgresql://revbridge@db.internal/revbridge",
        "",
    ]
    seen: set[str] = set()
    for line in template.splitlines():
        commented = line.lstrip().startswith("#")
        for name in _REFERENCE.findall(line):
            if name in seen:
                continue
            seen.add(name)
            hint = SECRET_HINTS.get(name)
            if hint:
                lines.append(f"# {hint}")
            lines.append(f"{'# ' if commented else ''}{name}=")
    return "\n".join(lines) + "\n"


def sandbox_environment(sandbox_document: dict[str, Any], template: str) -> dict[str, str]:
    """Environment that points the template at the sandboxes of ``revbridge sandbox``.

    Values the template reads from ``${VAR}`` fill that variable; every other connection
    setting becomes a ``REVBRIDGE_<SECTION>__<KEY>`` override.
    """
    template_document = YAML(typ="safe", pure=True).load(template) or {}
    environment: dict[str, str] = {}
    for section in _CONNECTIONS:
        template_section = template_document.get(section) or {}
        for key, value in (sandbox_document.get(section) or {}).items():
            if value is None:
                continue
            reference = _ONLY_REFERENCE.match(str(template_section.get(key, "")))
            if reference:
                environment[reference.group(1)] = str(value)
            elif template_section.get(key) != value:
                environment[f"REVBRIDGE_{section.upper()}__{key.upper()}"] = str(value)
    return environment


def dotenv_text(environment: dict[str, str]) -> str:
    """``KEY=value`` lines that a POSIX shell, docker compose and systemd all read."""
    header = "# Sandbox credentials written by `revbridge init --from-sandbox` (throwaway)\n"
    return header + "".join(
        f"{key}={_quoted(value)}\n" for key, value in sorted(environment.items())
    )


def _quoted(value: str) -> str:
    if _PLAIN_VALUE.fullmatch(value):
        return value
    if "'" in value or "\n" in value:
        raise ValueError("a sandbox value holds a quote or a newline; write .env by hand")
    return f"'{value}'"


def scaffold_project(
    root: Path, *, force: bool = False, sandbox_document: dict[str, Any] | None = None
) -> ScaffoldResult:
    """Write config, mappings, ``.env.example`` (and ``.env`` for sandboxes) under ``root``."""
    result = ScaffoldResult(root)
    template = config_template()
    files: dict[Path, str | Path] = {
        CONFIG_FILE: template,
        Path(".env.example"): env_example(template),
        Path(".gitignore"): _GITIGNORE,
    }
    for shipped in shipped_mapping_files():
        files[MAPPINGS_DIR / shipped.name] = shipped
    if sandbox_document is not None:
        files[Path(".env")] = dotenv_text(sandbox_environment(sandbox_document, template))
    for relative, content in files.items():
        target = root / relative
        if target.exists() and not force:
            result.kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_text(content, encoding="utf-8")
        if relative.name == ".env":
            target.chmod(0o600)
        result.written.append(target)
    return result
