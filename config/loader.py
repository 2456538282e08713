"""Load settings from one YAML file with ``${VAR}`` references to environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from config.settings import Settings

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigInvalid(Exception):
    """The configuration file is unreadable or wrong; the message says where and what."""


def _substitute(value: Any, environ: Mapping[str, str], where: str) -> Any:
    if isinstance(value, dict):
        return {key: _substitute(item, environ, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, environ, f"{where}[{i}]") for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigInvalid(f"{where}: environment variable {name} is not set")
        return environ[name]

    return _REFERENCE.sub(replace, value)


def _describe(error: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid configuration"]
    for detail in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in detail["loc"])
        lines.append(f"  {location}: {detail['msg']}")
    return "\n".join(lines)


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path``, resolve ``${VAR}`` references, and validate into :class:`Settings`."""
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigInvalid(f"cannot read configuration {path}: {error.strerror}") from None
    try:
        document = YAML(typ="safe").load(text) or {}
    except MarkedYAMLError as error:
        mark = error.problem_mark
        position = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigInvalid(f"{position}: {error.problem}") from None
    if not isinstance(document, dict):
        raise ConfigInvalid(f"{path}: expected a mapping of settings at the top level")
    resolved = _substitute(document, environ, path.name)
    try:
        return Settings(**resolved)
    except ValidationError as error:
        raise ConfigInvalid(_describe(error, path)) from None
