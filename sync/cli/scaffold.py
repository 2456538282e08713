"""``revbridge init``: write a project a new user edits (config, mappings, ``.env.example``).

The mappings come with the fixtures they pass (``mappings/tests/``), so ``revbridge mappings
test`` passes in a new project and guards the admin's first edits.

A billing profile shapes the project: ``--profile stripe`` writes ``billing.profile: stripe``
and Stripe's flows (``templates/revbridge-stripe.yaml`` replaces those sections of
``templates/revbridge.yaml``), offers only the delete policies Stripe can honour, and copies the
mappings and fixtures shipped for Stripe, so the admin edits the files the profile runs with.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_args

from ruamel.yaml import YAML

from config.settings import BillingProfile
from connectors.billing.stripe.deletes import DELETABLE_ENTITIES, instead_of_deleting
from mappings.loader import load_mapping_set, shipped_fixture_dir, shipped_mapping_files

CONFIG_FILE = Path("config") / "revbridge.yaml"
MAPPINGS_DIR = Path("mappings")
FIXTURES_DIR = MAPPINGS_DIR / "tests"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ONLY_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@%+,=-]*")
_CONNECTIONS = ("salesforce", "billing", "erp")
PROFILES: tuple[BillingProfile, ...] = get_args(BillingProfile)
_TOP_LEVEL_KEY = re.compile(r"([a-z_]+):")
_STRIPE_DELETES = "    # deletes: Stripe's delete policies\n"
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


def config_template(profile: BillingProfile = "json") -> str:
    """The commented ``revbridge.yaml`` a new project on ``profile`` starts from."""
    template = _template("revbridge.yaml")
    if profile == "json":
        return template
    shaped = _with_sections(template, _template(f"revbridge-{profile}.yaml"))
    return shaped.replace(_STRIPE_DELETES, stripe_delete_policies())


def stripe_delete_policies() -> str:
    """A commented ``deletes:`` of a flow into Stripe: per entity written there, what works."""
    billing = load_mapping_set(shipped_mapping_files("stripe")).system("billing")
    offers: list[tuple[str, str]] = []
    for entity, mapping in billing.entities.items():
        if mapping.system_of_record:
            continue  # captured from Stripe, never written to it
        if entity in DELETABLE_ENTITIES:
            offers.append((f"{entity}: propagate", ""))
        else:
            instead = instead_of_deleting(entity)
            offers.append((f"{entity}: {instead.policy}", f"  # {instead.what_stripe_does}"))
    width = max(len(policy) for policy, _ in offers)
    return (
        "    # What a deletion in Salesforce does in billing and the ERP, per entity: deactivate\n"
        "    # (send the record once more as inactive), ignore, or propagate (delete it). Stripe\n"
        "    # deletes only the entities offered propagate; the others say what it does instead.\n"
        "    # deletes:\n"
        + "".join(f"    #   {policy:<{width}}{why}".rstrip() + "\n" for policy, why in offers)
    )


def _template(name: str) -> str:
    return resources.files("sync.cli.templates").joinpath(name).read_text("utf-8")


def _with_sections(template: str, overlay: str) -> str:
    """``template`` with each top-level section of ``overlay`` in place of its own."""
    sections = _sections(template)
    for key, lines in _sections(overlay).items():
        template = template.replace(sections[key], lines)
    return template


def _sections(text: str) -> dict[str, str]:
    """Each top-level key's block: its line and the indented lines right after it."""
    lines = text.splitlines(keepends=True)
    blocks: dict[str, str] = {}
    for start, line in enumerate(lines):
        key = _TOP_LEVEL_KEY.match(line)
        if key is None:
            continue
        end = start + 1
        while end < len(lines) and lines[end].startswith(" "):
            end += 1
        blocks[key.group(1)] = "".join(lines[start:end])
    return blocks


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
    root: Path,
    *,
    force: bool = False,
    sandbox_document: dict[str, Any] | None = None,
    profile: BillingProfile = "json",
) -> ScaffoldResult:
    """Write config, mappings and their fixtures, ``.env.example`` (and ``.env`` for
    sandboxes) under ``root``."""
    result = ScaffoldResult(root)
    template = config_template(profile)
    files: dict[Path, str | Path] = {
        CONFIG_FILE: template,
        Path(".env.example"): env_example(template),
        Path(".gitignore"): _GITIGNORE,
    }
    for shipped in shipped_mapping_files(profile):
        files[MAPPINGS_DIR / shipped.name] = shipped
    for fixture in sorted(shipped_fixture_dir(profile).glob("*.yaml")):
        files[FIXTURES_DIR / fixture.name] = fixture
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
