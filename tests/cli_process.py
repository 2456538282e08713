"""Run ``revbridge`` in a real subprocess, from this checkout's code."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def revbridge(*args: str) -> list[str]:
    """The argv of ``revbridge ARGS`` run as ``python -m sync.cli`` (use ``cwd=ROOT``).

    ``-m`` with the checkout as working directory runs this tree's code even where the
    installed console script points at another checkout.
    """
    return [sys.executable, "-m", "sync.cli", *args]
