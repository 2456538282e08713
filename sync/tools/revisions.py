"""Mapping files as they were at a git revision, for ``revbridge mappings diff --against``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class RevisionError(Exception):
    """git could not produce the mapping files at that revision; the message says why."""


def _git(directory: Path, *args: str) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise RevisionError("git is not installed; use --old with a folder of mapping files")
    try:
        # An argument list, no shell; a revision starting with "-" is refused by the caller.
        done = subprocess.run(  # noqa: S603
            [git, "-C", str(directory), *args], capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RevisionError(f"cannot run git: {error}") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise RevisionError(f"git {' '.join(args)} failed in {directory}: {message}")
    return done.stdout


def export_mapping_files(revision: str, directory: Path, into: Path) -> list[Path]:
    """Write ``directory``'s ``*.yaml`` files as of ``revision`` into ``into``; their paths."""
    if revision.startswith("-"):
        raise RevisionError(f"{revision!r} is not a revision")
    listing = _git(directory, "ls-tree", "--name-only", revision, "--", ".")
    names = [n for n in listing.decode().splitlines() if n.endswith((".yaml", ".yml"))]
    if not names:
        raise RevisionError(f"no mapping files in {directory} at {revision}")
    written = []
    for name in names:
        target = into / name
        target.write_bytes(_git(directory, "show", f"{revision}:./{name}"))
        written.append(target)
    return written
