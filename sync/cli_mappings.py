"""``revbridge mappings ...``: tools for the admins who own the YAML mappings."""

from __future__ import annotations

import typer

mappings_app = typer.Typer(
    help="Check, test, preview and diff the YAML mappings.", no_args_is_help=True
)
