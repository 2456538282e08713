"""Configuration and mapping files are read within bounds: alias bombs and huge files refused.

The refusals run in a subprocess under an address-space limit (``resource.setrlimit``), not a
timer: a loader that expanded the aliases or read the whole file would run out of memory and
fail the test, however fast the machine.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from config.loader import ConfigInvalid, load_settings
from config.safe_yaml import MAX_EXPANDED_NODES, load_yaml
from tests.cli_process import cli_env

# 9 levels of 9 aliases: 387,420,489 strings once expanded, in 500 bytes.
BOMB = "version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
MEMORY_LIMIT = 256 * 1024 * 1024  # the interpreter with the loaders imported needs ~50 MB

_LOAD_UNDER_LIMIT = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from config.loader import ConfigInvalid, load_settings
    from mappings.loader import check_mapping_files
    path = Path(sys.argv[1])
    if sys.argv[2] == "config":
        try:
            load_settings(path, environ={{}})
        except ConfigInvalid as error:
            print(error)
    else:
        for problem in check_mapping_files([path]):
            print(problem)
    """
).format(limit=MEMORY_LIMIT)


def _load_in_a_small_process(path: Path, kind: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_UNDER_LIMIT, str(path), kind],
        env=cli_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "MemoryError" not in done.stderr
    return done.stdout


@pytest.mark.parametrize("kind", ["config", "mapping"])
def test_an_alias_bomb_is_refused_within_a_small_memory_limit(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")

    output = _load_in_a_small_process(path, kind)

    assert "aliases expand this document past 200,000 values" in output
    assert f"{path}:" in output  # with the line and column of the node that overflowed


@pytest.mark.parametrize("kind", ["config", "mapping"])
def test_a_100_mb_file_is_refused_before_it_is_read(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w", encoding="utf-8") as file:
        file.write("version: 1\n")
        line = "# " + "x" * 1021 + "\n"
        for _ in range(100 * 1024):
            file.write(line)

    output = _load_in_a_small_process(path, kind)

    assert "the file is 100.0 MB; revbridge reads YAML files of at most 10 MB" in output


def test_shared_values_below_the_bound_load_as_before() -> None:
    loaded = load_yaml("base: &base {currency: USD}\nfirst: *base\nsecond: *base\n")

    assert loaded["first"] == loaded["second"] == {"currency": "USD"}


def test_a_document_just_past_the_bound_is_refused_with_its_position() -> None:
    row = "[" + ", ".join(["x"] * 999) + "]"
    text = f"row: &row {row}\nrows: [{', '.join(['*row'] * (MAX_EXPANDED_NODES // 1000 + 1))}]\n"

    with pytest.raises(Exception, match="aliases expand this document") as raised:
        load_yaml(text)

    assert "line 2" in str(raised.value)


def test_a_config_bomb_is_one_problem_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "revbridge.yaml"
    path.write_text(BOMB, encoding="utf-8")

    with pytest.raises(ConfigInvalid) as raised:
        load_settings(path, environ={})

    (problem,) = raised.value.problems
    assert problem.where.startswith(f"{path}:")
    assert "aliases expand" in problem.message
