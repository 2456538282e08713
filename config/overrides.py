"""``REVBRIDGE_*`` environment overrides, parsed by pydantic-settings' own environment source.

``REVBRIDGE_SALESFORCE__LOGIN_URL`` overrides ``salesforce.login_url``; lists and mappings take
JSON (``REVBRIDGE_FLOWS='[{"name": "nightly"}]'``). Overrides win over the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_settings import EnvSettingsSource, SettingsError
from pydantic_settings.sources.utils import parse_env_vars

from config.settings import Settings

ENV_PREFIX = "REVBRIDGE_"
NESTING = "__"


class _GivenEnvironment(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._given = dict(environ)
        super().__init__(Settings, env_prefix=ENV_PREFIX, env_nested_delimiter=NESTING)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The nested settings that ``REVBRIDGE_*`` variables in ``environ`` set.

    Raises SettingsError when a variable for a list or mapping does not hold valid JSON.
    """
    return _GivenEnvironment(environ)()


def parse_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The overrides the well-formed ``REVBRIDGE_*`` variables set, and ``(variable, problem)``
    for each one whose value can't be read (JSON expected), so all are reported at once."""
    try:
        return environment_overrides(environ), []
    except SettingsError:
        pass
    ours = {name: value for name, value in environ.items() if name.upper().startswith(ENV_PREFIX)}
    broken: list[tuple[str, str]] = []
    for name in sorted(ours):
        try:
            environment_overrides({name: ours[name]})
        except SettingsError:
            broken.append((name, _json_hint(name)))
    readable = {name: value for name, value in ours.items() if name not in dict(broken)}
    return environment_overrides(readable), broken


def _json_hint(name: str) -> str:
    example = ENV_PREFIX + 'FLOWS=\'[{"name": "nightly"}]\''
    return f"not valid JSON: lists and mappings take JSON (e.g. {example}); fix or unset {name}"


def variable_name(loc: tuple[str | int, ...]) -> str:
    """The environment variable that sets the setting at ``loc``."""
    return ENV_PREFIX + NESTING.join(str(step).upper() for step in loc)


def overridden_prefix(
    overrides: Mapping[str, Any], loc: tuple[str | int, ...]
) -> tuple[str | int, ...] | None:
    """The part of ``loc`` an override set (its variable's path), or None if the file did."""
    node: Any = overrides
    for depth, step in enumerate(loc):
        if not isinstance(node, Mapping) or step not in node:
            return None
        node = node[step]
        if not isinstance(node, Mapping):
            return loc[: depth + 1]
    return loc


def merge(document: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` with ``overrides`` laid over it, nested mappings merged key by key."""
    merged = dict(document)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge(dict(current), value)
        else:
            merged[key] = value
    return merged
