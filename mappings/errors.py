"""Errors of the mapping layer, named by what the engine does with them.

::

    MappingConfigError        a mapping file is wrong: fail before any record moves
    MappingError              one record's value can't be mapped: error queue, stage "map"
    +-- UnresolvedReference   a referenced record isn't synced yet: defer and retry
    +-- IllegalCharacters     text XML 1.0 can't hold, under `illegal_characters: reject`
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a mapping file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class MappingConfigError(Exception):
    """Mapping files failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class MappingError(Exception):
    """A value of one record could not be mapped (unmapped lookup value, bad date)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnresolvedReference(MappingError):
    """A referenced record has no id in the needed system yet; the engine defers the record."""

    def __init__(self, field: str, *, entity: str, system: str, key: str) -> None:
        super().__init__(field, f"referenced {entity} {key!r} ({system}) is not synced yet")
        self.entity = entity
        self.system = system
        self.key = key


class IllegalCharacters(MappingError):
    """Text holds characters XML 1.0 can't (``account.name contains control character U+001B
    at position 8``); the rule, or its file, says ``illegal_characters: reject``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.args = (
            f"{field} {problem}; fix the source record, or set illegal_characters: strip on "
            "the rule (text: {illegal_characters: strip} for its whole mapping file)",
        )
