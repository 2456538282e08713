"""Operator mistakes, table-driven: each runs the real `revbridge` in a subprocess.

Every case asserts that stderr holds no traceback, that the last line names the problem and
what to do, that the exit code is the documented one, and that nothing was written: no
sandbox saw a write, the store's rows are as they were, and no SQLite file appeared.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mappings.loader import shipped_mapping_files
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from sync.store.leases import try_acquire
from sync.store.schema import metadata, utc_now
from tests.cli_process import cli_env, revbridge

SMALL = SandboxSize(accounts=3, orders=6, products=2)
UNREACHABLE_PG = "postgresql://revbridge@127.0.0.1:1/revbridge"
NO_SUCH_DATABASE = "postgres://postgres@127.0.0.1:5432/revbridge_no_such_database"
CANNOT_OPEN = ("cannot open the state store", "check database_url")
NO_STORE = ("no state store at", "run `revbridge run` first")
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@dataclass(frozen=True)
class Project:
    """A folder with a config for the sandboxes; the store is `revbridge.db` beside it."""

    folder: Path
    document: dict[str, Any]

    @property
    def config(self) -> Path:
        return self.folder / "revbridge.yaml"

    @property
    def database(self) -> Path:
        return self.folder / "revbridge.db"

    def write(self, **changes: Any) -> Path:
        """The config with top-level ``changes`` (a dict value is merged into its section)."""
        document = {key: dict(value) if isinstance(value, dict) else value
                    for key, value in self.document.items()}  # fmt: skip
        for key, value in changes.items():
            if isinstance(value, dict):
                document[key] = {**document.get(key, {}), **value}
            else:
                document[key] = value
        write_sandbox_config(self.config, document)
        return self.config

    def create_store(self) -> None:
        Store(f"sqlite:///{self.database}").close()


@dataclass(frozen=True)
class Mistake:
    """One row of the table: the set-up, the command, and what the operator must see."""

    name: str
    args: tuple[str, ...]
    exit_code: int
    last_line: tuple[str, ...]
    setup: Callable[[Project], None] = lambda project: None
    env: dict[str, str] = field(default_factory=dict)
    stderr_holds: tuple[str, ...] = ()


def _config(**changes: Any) -> Callable[[Project], None]:
    def setup(project: Project) -> None:
        project.write(**changes)

    return setup


def _store_and(**changes: Any) -> Callable[[Project], None]:
    def setup(project: Project) -> None:
        project.write(**changes)
        project.create_store()

    return setup


def _bomb(project: Project) -> None:
    project.config.write_text("version: 1\n" + BOMB, encoding="utf-8")


def _huge(project: Project) -> None:
    with project.config.open("w", encoding="utf-8") as file:
        file.write("version: 1\n")
        file.write(("# " + "x" * 1000 + "\n") * 11_000)  # 11 MB of comments


def _mapping_bomb(project: Project) -> None:
    mappings = project.folder / "mappings"
    mappings.mkdir()
    (mappings / "salesforce.yaml").write_text("version: 1\n" + BOMB, encoding="utf-8")
    project.write(mappings_dir="mappings")


def _salesforce_mapping_edit(old: str, new: str) -> Callable[[Project], None]:
    """The shipped mappings in the project's own folder, with one edit to salesforce.yaml."""

    def setup(project: Project) -> None:
        mappings = project.folder / "mappings"
        mappings.mkdir()
        for shipped in shipped_mapping_files():
            text = shipped.read_text(encoding="utf-8")
            if shipped.name == "salesforce.yaml":
                text = text.replace(old, new, 1)
            (mappings / shipped.name).write_text(text, encoding="utf-8")
        project.write(mappings_dir="mappings")

    return setup


_field_typo = _salesforce_mapping_edit("{path: BillingCity}", "{path: BillingCty}")
_mapping_key_typo = _salesforce_mapping_edit("{path: BillingCity}", "{pth: BillingCity}")


def _lease_held(project: Project) -> None:
    project.write()
    project.create_store()
    store = Store(f"sqlite:///{project.database}")
    with store.transaction() as connection:
        owner = "billing-host-7:4242:0a1b2c3d"
        try_acquire(connection, "quote-to-cash", owner, timedelta(hours=1), utc_now())
    store.close()


def _unset_and_unknown(project: Project) -> None:
    project.write(salesforce={"password": "${REVBRIDGE_TEST_UNSET_PASSWORD}", "pasword": "x"})


C = "-c"
CFG = "{config}"
MISTAKES = [
    # An unreachable PostgreSQL, for every command that opens the store.
    *(
        Mistake(f"unreachable postgres: {' '.join(args)}", (*args, C, CFG), 2, CANNOT_OPEN,
                _config(database_url=UNREACHABLE_PG))
        for args in (("run",), ("status",), ("runs",), ("errors", "list"), ("errors", "show", "1"),
                     ("errors", "export"), ("conflicts", "list"), ("db", "upgrade"), ("serve",),
                     ("backfill", "--since", "2026-01-01"), ("runs", "show", "1"))
    ),
    Mistake("unreachable postgres: check", ("check", C, CFG), 5,
            ("state store", "next: check database_url"), _config(database_url=UNREACHABLE_PG)),
    # A database that does not exist (and a postgres:// URL, as Heroku hands it out).
    Mistake("no such database: db upgrade", ("db", "upgrade", C, CFG), 2,
            ("does not exist", "createdb revbridge_no_such_database"),
            _config(database_url=NO_SUCH_DATABASE)),
    Mistake("no such database: run", ("run", C, CFG), 2, ("createdb",),
            _config(database_url=NO_SUCH_DATABASE)),
    # Read-only commands never create a store.
    *(
        Mistake(f"no store yet: {' '.join(args)}", (*args, C, CFG), 2, NO_STORE, _config())
        for args in (("status",), ("runs",), ("runs", "show", "1"), ("errors", "list"),
                     ("errors", "show", "1"), ("errors", "export", "--format", "csv"),
                     ("conflicts", "list"), ("conflicts", "show", "1"),
                     ("errors", "resolve", "1"), ("errors", "retry", "1"),
                     ("conflicts", "resolve", "1", "--take", "source"))
    ),
    # An id that names nothing: the same answer from show, retry and resolve.
    *(
        Mistake(f"no such entry: errors {verb}", ("errors", verb, "99", C, CFG), 1,
                ("no error-queue entry 99",), _store_and())
        for verb in ("show", "retry", "resolve", "ignore")
    ),
    Mistake("no such run: runs show", ("runs", "show", "99", C, CFG), 1, ("no run 99",),
            _store_and()),
    Mistake("no such run: backfill --resume", ("backfill", "--resume", "99", C, CFG), 1,
            ("no run 99",), _store_and()),
    # salesforce.ca_bundle names a file that is not there.
    Mistake("missing ca_bundle: check", ("check", C, CFG), 4, ("ca_bundle", "next: check"),
            _config(salesforce={"ca_bundle": "gone/ca.pem"})),
    Mistake("missing ca_bundle: run", ("run", C, CFG), 1, ("ca_bundle", "point it at a PEM"),
            _config(salesforce={"ca_bundle": "gone/ca.pem"})),
    Mistake("missing ca_bundle: backfill", ("backfill", "--since", "2026-01-01", C, CFG), 1,
            ("ca_bundle", "point it at a PEM"), _config(salesforce={"ca_bundle": "gone/ca.pem"})),
    # Environment and configuration mistakes: one line each, every problem at once.
    *(
        Mistake(f"malformed REVBRIDGE_FLOWS: {args[0]}", (*args, C, CFG), 2,
                ("problem", "revbridge check"), _config(), env={"REVBRIDGE_FLOWS": '{"x'},
                stderr_holds=("environment variable REVBRIDGE_FLOWS: not valid JSON",))
        for args in (("run",), ("status",), ("serve",))
    ),
    Mistake("malformed REVBRIDGE_FLOWS: check", ("check", C, CFG), 2, ("REVBRIDGE_FLOWS", "next:"),
            _config(), env={"REVBRIDGE_FLOWS": '{"x'}),
    Mistake("unset variable and unknown key", ("run", C, CFG), 2, ("2 problems", "revbridge check"),
            _unset_and_unknown, stderr_holds=("REVBRIDGE_TEST_UNSET_PASSWORD is not set",
                                              "unknown key 'salesforce.pasword'")),
    Mistake("alias bomb: run", ("run", C, CFG), 2, ("1 problem", "revbridge check"), _bomb,
            stderr_holds=("aliases expand this document",)),
    Mistake("alias bomb: check", ("check", C, CFG), 2, ("aliases expand", "next:"), _bomb),
    Mistake("100 MB-class config: status", ("status", C, CFG), 2, ("1 problem", "revbridge check"),
            _huge, stderr_holds=("at most 10 MB",)),
    Mistake("alias bomb in a mapping file: run", ("run", C, CFG), 2,
            ("mappings are invalid", "mappings check"), _mapping_bomb,
            stderr_holds=("aliases expand this document",)),
    Mistake("a field name typo in a Salesforce mapping: check", ("check", C, CFG), 2,
            ("mapped fields", "has no field 'BillingCty'", "next: fix"), _field_typo),
    # The same typo, the same exit from the mappings' own check (the README's table says 2).
    Mistake("a field name typo in a Salesforce mapping: mappings check --live",
            ("mappings", "check", "--live", C, CFG), 2,
            ("1 problem in", "fix each at its file:line:col", "revbridge mappings check"),
            _field_typo),
    Mistake("an unknown key in a mapping: mappings check", ("mappings", "check", C, CFG), 2,
            ("1 problem in", "fix each at its file:line:col"), _mapping_key_typo),
    Mistake("missing config file", ("run", C, "{folder}/nope.yaml"), 2,
            ("1 problem", "revbridge check"), stderr_holds=("cannot read the configuration",)),
    Mistake("unknown flow", ("run", "--flow", "nope", C, CFG), 2, ("no flow 'nope'", "configured:"),
            _config()),
    Mistake("a run holds the lease", ("run", C, CFG), 1,
            ("held by a revbridge process on billing-host-7 pid 4242", "try again later"),
            _lease_held),
    # Wrong target credentials fail the run before it reads, even with nothing to write.
    Mistake("wrong ERP credentials: run", ("run", C, CFG), 1,
            ("target erp failed its login", "nothing was run", "revbridge check"),
            _config(erp={"token_secret": "not-the-secret"})),
    Mistake("wrong billing key: run", ("run", C, CFG), 1,
            ("target billing failed its login", "nothing was run"),
            _config(billing={"api_key": "sk_test_wrong"})),
    Mistake("wrong ERP credentials: backfill", ("backfill", "--since", "2026-01-01", C, CFG), 1,
            ("target erp failed its login",), _config(erp={"token_secret": "not-the-secret"})),
    Mistake("bad age filter", ("errors", "list", "--older-than", "5x", C, CFG), 2,
            ("should look like", "7d"), _store_and()),
    Mistake("backfill without --since", ("backfill", C, CFG), 2, ("--since is required",),
            _store_and()),
]  # fmt: skip


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SMALL) as running:
        yield running


def _written(sandboxes: Sandboxes) -> tuple[int, int, int]:
    return (
        sandboxes.salesforce.write_calls,
        sum(sandboxes.billing.writes.values()),
        sum(sandboxes.erp.upsert_count.values()),
    )


def _rows(database: Path) -> dict[str, list[tuple[Any, ...]]] | None:
    if not database.exists():
        return None
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        rows = {
            table.name: sorted(map(tuple, connection.execute(sa.select(table))), key=repr)
            for table in metadata.sorted_tables
        }
    engine.dispose()
    return rows


@pytest.mark.parametrize("mistake", MISTAKES, ids=[mistake.name for mistake in MISTAKES])
def test_a_mistake_gets_one_line_its_exit_code_and_writes_nothing(
    mistake: Mistake, sandboxes: Sandboxes, tmp_path: Path
) -> None:
    project = Project(tmp_path, sandboxes.settings_document("sqlite:///revbridge.db"))
    mistake.setup(project)
    rows_before = _rows(project.database)
    files_before = sorted(tmp_path.rglob("*"))
    written_before = _written(sandboxes)
    args = [arg.format(config=project.config, folder=tmp_path) for arg in mistake.args]

    done = subprocess.run(
        revbridge(*args), env=cli_env(mistake.env), cwd=tmp_path, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip

    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == mistake.exit_code, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, done.stdout
    for words in mistake.last_line:
        assert words in lines[-1], done.stderr
    for words in mistake.stderr_holds:
        assert words in done.stderr, done.stderr
    assert _written(sandboxes) == written_before
    assert sorted(tmp_path.rglob("*")) == files_before
    assert _rows(project.database) == rows_before


def test_the_table_covers_at_least_thirty_mistakes() -> None:
    assert len(MISTAKES) >= 30


@pytest.mark.parametrize("command", [("status",), ("runs",), ("errors", "list")])
def test_a_read_only_command_on_an_empty_database_creates_nothing(
    database_url: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = subprocess.run(
        revbridge(*command, "--database-url", database_url), env=cli_env(), cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "no state store at" in done.stderr.splitlines()[-1]
    if database_url.startswith("sqlite"):
        assert not list(tmp_path.iterdir())
    else:
        engine = sa.create_engine(database_url)
        with engine.connect() as connection:
            assert sa.inspect(connection).get_table_names() == []
        engine.dispose()


def test_wrong_erp_credentials_fail_a_run_with_nothing_to_sync(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    # The row: nothing changed in Salesforce, so the run sends the ERP no call at all;
    # without its login check first it reported "succeeded" with the ERP unusable.
    project = Project(tmp_path, sandboxes.settings_document("sqlite:///revbridge.db"))
    project.write()
    first = subprocess.run(revbridge("run", C, str(project.config)), env=cli_env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    project.write(erp={"token_secret": "not-the-secret"})
    rows_before = _rows(project.database)

    done = subprocess.run(revbridge("run", C, str(project.config)), env=cli_env(), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "target erp failed its login" in done.stderr.splitlines()[-1]
    assert _rows(project.database) == rows_before


def test_an_unreachable_target_is_said_before_the_run_which_fails_when_it_needs_it(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    # Down for now or a wrong port: not a refusal, so the run goes on and fails on its writes.
    project = Project(tmp_path, sandboxes.settings_document("sqlite:///revbridge.db"))
    project.write(erp={"wsdl_url": "http://127.0.0.1:9/wsdl"},
                  retry={"attempts": 1, "max_wait_seconds": 0.01})  # fmt: skip

    done = subprocess.run(revbridge("run", C, str(project.config)), env=cli_env(), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "warning: target erp unreachable before the run" in done.stderr
    assert "failed" in done.stdout
