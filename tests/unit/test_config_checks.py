"""load_settings(..., checks=): rules beyond the settings model, located like the model's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from config.loader import ConfigInvalid, Loc, load_settings
from tests.unit.test_config_loader import MINIMAL, SECRETS


def _page_size_is_even(document: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    page_size = document.get("salesforce", {}).get("page_size", 2000)
    if int(page_size) % 2:  # unvalidated: a variable sets text
        yield ("salesforce", "page_size"), "must be even"


def _problems(path: Path, environ: Mapping[str, str]) -> list[str]:
    with pytest.raises(ConfigInvalid) as caught:
        load_settings(path, environ, checks=[_page_size_is_even])
    return [str(problem) for problem in caught.value.problems]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "revbridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_check_problem_names_the_file_line_and_column_of_its_key(tmp_path: Path) -> None:
    text = MINIMAL.replace("  username:", "  page_size: 501\n  username:")

    [problem] = _problems(_write(tmp_path, text), SECRETS)

    assert problem == f"{tmp_path / 'revbridge.yaml'}:3:3: salesforce.page_size: must be even"


def test_check_problems_are_reported_with_the_settings_model_s(tmp_path: Path) -> None:
    text = MINIMAL.replace("  username:", "  page_size: 501\n  username:") + "retry: {attemps: 2}\n"

    problems = _problems(_write(tmp_path, text), SECRETS)

    assert [problem.split(": ", 2)[1] for problem in problems] == [
        "unknown key 'retry.attemps' (did you mean 'attempts'?)",
        "salesforce.page_size",
    ]


def test_a_value_set_by_an_environment_variable_names_the_variable(tmp_path: Path) -> None:
    environ = {**SECRETS, "REVBRIDGE_SALESFORCE__PAGE_SIZE": "501"}

    [problem] = _problems(_write(tmp_path, MINIMAL), environ)

    assert problem == "environment variable REVBRIDGE_SALESFORCE__PAGE_SIZE: " + (
        "salesforce.page_size: must be even"
    )


def test_without_problems_the_checked_settings_load(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, MINIMAL), SECRETS, checks=[_page_size_is_even])

    assert settings.salesforce.page_size == 2000
