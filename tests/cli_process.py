"""Run ``revbridge`` in a real subprocess, from this checkout's code."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def revbridge(*args: str) -> list[str]:
    """The argv of ``revbridge ARGS``, run as ``python -m sync.cli.app`` with :func:`cli_env`.

    The checkout on PYTHONPATH runs this tree's code even where the installed console
    script points at another checkout.
    """
    return [sys.executable, "-m", "sync.cli.app", *args]


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for :func:`revbridge`: this process's, the checkout first on the path."""
    return {**os.environ, **(extra or {}), "PYTHONPATH": str(ROOT)}
