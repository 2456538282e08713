"""What every ``revbridge`` command shares: consoles, options, store and settings loading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from config.loader import ConfigInvalid, load_settings
from config.redaction import install_redaction
from config.settings import Settings
from connectors.billing.connector import CONFIG_CHECKS as BILLING_CHECKS
from mappings.errors import MappingConfigError
from mappings.loader import load_mapping_set, mapping_files_for
from mappings.mapping_set import MappingSet
from sync.cli.output import output_console
from sync.engine.flows import Flow, flows_from_settings
from sync.store import Store
from sync.store.database import StoreError

console = output_console()
err_console = output_console(stderr=True)

DEFAULT_DATABASE_URL = "sqlite:///revbridge.db"
DEFAULT_CONFIG = Path("revbridge.yaml")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
]
RequiredConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="State store URL (default: from --config, $REVBRIDGE_DATABASE_URL, "
        "or sqlite:///revbridge.db).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error and return the Exit to raise."""
    # The message is plain text: "[salesforce] ..." must not be read as rich markup.
    err_console.print(Text.assemble(("error: ", "red"), message), highlight=False)
    return typer.Exit(code)


def flows_named(settings: Settings, name: str | None, config: Path) -> list[Flow]:
    """The configured flows, only the one called ``name`` when given; exit 2 if there is none."""
    flows = flows_from_settings(settings)
    if name is None:
        return list(flows.values())
    if name not in flows:
        raise fail(f"no flow {name!r} in {config}; configured: {', '.join(flows)}")
    return [flows[name]]


def load_checked_settings(config: Path) -> Settings:
    """The configuration, checked by the connector profiles too (what Stripe can delete).

    Raises ConfigInvalid listing every problem, the profiles' among the settings model's.
    """
    return load_settings(config, checks=BILLING_CHECKS)


def settings_from(config: Path) -> Settings:
    """Load the configuration or exit 2 with its problems."""
    try:
        settings = load_checked_settings(config)
    except ConfigInvalid as error:
        count = len(error.problems)
        summary = "1 problem: fix it" if count == 1 else f"{count} problems: fix them"
        next_step = f"{config} has {summary}, then run `revbridge check -c {config}`"
        raise fail(f"{error}\n{next_step}") from None
    # From here on every log line and error message is scrubbed of the configured secrets.
    install_redaction(settings)
    return settings


def mappings_for(settings: Settings) -> MappingSet:
    """The configured mapping files (or those shipped for the billing profile), or exit 2."""
    try:
        return load_mapping_set(mapping_files_for(settings))
    except MappingConfigError as error:
        next_step = "the mappings are invalid: fix the lines above, then `revbridge mappings check`"
        raise fail(f"{error}\n{next_step}") from None


def database_url(url: str | None, config: Path | None) -> str:
    """The store URL from the option, the config file, the environment or the default."""
    if url:
        return url
    if config is not None:
        return settings_from(config).database_url
    return os.environ.get("REVBRIDGE_DATABASE_URL", DEFAULT_DATABASE_URL)


def open_store(url: str, *, read_only: bool = False) -> Store:
    """Open (and migrate) the store, or exit 2 saying why.

    ``read_only`` commands create nothing: no store there yet is an error, not an empty one.
    """
    try:
        return Store(url, must_exist=read_only)
    except StoreError as error:
        raise fail(str(error)) from None
