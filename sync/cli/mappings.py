"""``revbridge mappings ...``: tools for the admins who own the YAML mappings.

Exit codes: 0 ok; 1 findings about mappings that load (failing fixtures, ``diff --exit-code``
changes); 2 invalid mappings (every ``mappings check`` problem, a field name the system lacks
included: the exit ``run`` and ``check`` give for the same mistake) and usage or configuration
errors (bad options, invalid config, broken fixture files, no store, offline).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from connectors.errors import ConnectorError
from mappings.errors import MappingConfigError
from mappings.loader import (
    check_mapping_files,
    fixture_dir_for,
    load_mapping_set,
    mapping_files_for,
    shipped_fixture_dir,
    shipped_mapping_files,
    yaml_problem,
)
from mappings.mapping_set import MappingSet
from mappings.spec import mapping_json_schema
from mappings.upgrade import declares_old_format, upgrade_text
from sync.cli.common import ConfigOption, DatabaseOption, JsonOption, console, fail, settings_from
from sync.cli.mapping_check import check_json, check_live_fields, print_check
from sync.cli.mapping_report import fixture_lines, impact_samples, impact_table, preview_panels
from sync.engine.connections import open_connectors
from sync.engine.resolver import StoreRefResolver
from sync.store import Store
from sync.store.database import StoreError
from sync.tools.fixtures import FixtureFileError, fixture_files, load_fixtures, run_fixture
from sync.tools.impact import analyse_impact
from sync.tools.live_check import LiveReport
from sync.tools.payload_values import jsonable
from sync.tools.preview import PreviewError, preview_record, source_mapping_for
from sync.tools.revisions import RevisionError, export_mapping_files

mappings_app = typer.Typer(
    help="Check, test, preview and diff the YAML mappings.", no_args_is_help=True
)

FilesArgument = Annotated[
    list[Path] | None,
    typer.Argument(help="Mapping files or folders (default: --config's mappings_dir, or shipped)."),
]


def _expand(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return found


def _mapping_dir(config: Path | None) -> Path:
    """The folder the mappings in use come from: the config's mappings_dir, or the shipped."""
    if config is not None:
        configured = settings_from(config).mappings_dir
        if configured is not None:
            return configured
    return shipped_mapping_files()[0].parent


def _mapping_files(files: Sequence[Path] | None, config: Path | None) -> list[Path]:
    """The files named, else those the configuration uses (its billing profile's shipped ones
    when it names no mappings_dir), else the shipped defaults."""
    if files:
        return _expand(files)
    if config is not None:
        return mapping_files_for(settings_from(config))
    return shipped_mapping_files()


def _load(paths: Sequence[Path], label: str = "") -> MappingSet:
    try:
        return load_mapping_set(paths)
    except MappingConfigError as error:
        raise fail(f"{label}mappings are invalid:\n{error}") from None


@mappings_app.command()
def check(
    files: FilesArgument = None,
    live: Annotated[
        bool, typer.Option("--live", help="Also check field names and types against the systems.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate mapping files; print every problem as file:line:col: message."""
    if live and config is None:
        raise fail("--live needs --config to reach the systems")
    paths = _mapping_files(files, config)
    problems = check_mapping_files(paths)
    report = LiveReport(problems=list(problems))
    report.notes += [
        f"{path} is format version 1, read as version 2; `revbridge mappings upgrade` rewrites it"
        for path in paths
        if declares_old_format(path)
    ]
    if live and problems:
        report.notes.append("live checks skipped: fix the problems above first")
    elif live and config is not None:
        live_report = check_live_fields(paths, _load(paths), config)
        report.problems += live_report.problems
        report.notes += live_report.notes
    if as_json:
        print(json.dumps(check_json(paths, report)))
    else:
        print_check(paths, report)
    if report.problems:
        # Invalid mappings stop `run` and `check` with 2; the linter of the same files agrees.
        raise typer.Exit(2)


@mappings_app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of mapping files, for editor autocompletion."""
    text = json.dumps(mapping_json_schema(), indent=2) + "\n"
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote {output}. First line of a mapping file:", highlight=False, soft_wrap=True)
    modeline = f"# yaml-language-server: $schema={output.resolve()}"
    console.print(modeline, highlight=False, markup=False, soft_wrap=True)


def _fixture_dir(config: Path | None) -> Path:
    """The fixtures of the mappings in use: ``<mappings_dir>/tests`` of the config, else the
    ones shipped for its billing profile (the default profile's without a config)."""
    if config is None:
        return shipped_fixture_dir()
    return fixture_dir_for(settings_from(config))


def _broken_fixture(path: Path, error: FixtureFileError) -> str:
    """Why a fixture file is unusable; a YAML syntax error as file:line:col, like ``check``."""
    try:
        list(YAML(typ="safe", pure=True).load_all(path.read_text(encoding="utf-8")))
    except MarkedYAMLError as yaml_error:
        return str(yaml_problem(str(path), yaml_error))
    except (OSError, UnicodeDecodeError, YAMLError):
        pass
    return str(error)


@mappings_app.command("test")
def run_fixtures(
    fixtures: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Fixture files or folders (default: the config's mappings_dir/tests/, else the "
            "fixtures shipped for its billing profile)."
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run YAML mapping fixtures; a diff for each mismatch, exit 1 on any failure."""
    mappings = _load(_mapping_files(None, config))
    folders = fixtures or [_fixture_dir(config)]
    files = fixture_files(folders)
    if not files:
        raise fail(f"no fixture files in {', '.join(str(folder) for folder in folders)}")
    results, broken = [], []
    for path in files:
        try:
            cases = list(load_fixtures(path))
        except FixtureFileError as error:
            broken.append(_broken_fixture(path, error))
            continue
        results += [run_fixture(mappings, label, fixture) for label, fixture in cases]
    failed = sum(not result.passed for result in results)
    if as_json:
        print(
            json.dumps(
                {
                    "results": [{**vars(r), "passed": r.passed} for r in results],
                    "broken_files": broken,
                }
            )
        )
    else:
        for result in results:
            for line in fixture_lines(result):
                console.print(line, soft_wrap=True)
        for message in broken:
            console.print(f"BROKEN {message}", style="red", markup=False, soft_wrap=True)
        summary = f"{len(results) - failed} passed, {failed} failed"
        console.print(summary + (f", {len(broken)} broken files" if broken else ""), style="bold")
    if broken:
        raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)


def _existing_store(url: str) -> Store:
    """The store at ``url`` opened without creating or migrating anything."""
    store = Store(url, migrate=False, must_exist=True)
    current = store.current_revision()
    if current != store.head_revision():
        store.close()
        raise StoreError(
            f"{store.display_url} is at revision {current}: run `revbridge db upgrade` first"
        )
    return store


@mappings_app.command()
def preview(
    config: Annotated[Path, typer.Option("--config", "-c", help="revbridge YAML configuration.")],
    system: Annotated[str, typer.Option(help="System of record to fetch from.")] = "salesforce",
    object_name: Annotated[str, typer.Option("--object", help="Its object, e.g. Order.")] = "",
    record_id: Annotated[str, typer.Option("--id", help="The record's id there.")] = "",
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch one live record and show its canonical form and each payload; writes nothing."""
    if not object_name or not record_id:
        raise fail("name the record with --object and --id")
    settings = settings_from(config)
    mappings = _load(mapping_files_for(settings))
    try:
        mapping = source_mapping_for(mappings, system, object_name)
    except PreviewError as error:
        raise fail(str(error)) from None
    store, store_note = None, ""
    try:
        store = _existing_store(database_url or settings.database_url)
    except StoreError as error:
        store_note = f"refs not resolved: {error}"
    try:
        with open_connectors(settings) as connectors:
            shown = preview_record(
                mappings,
                mapping,
                connectors[system],
                record_id,
                StoreRefResolver(store.engine) if store else None,
            )
    except (PreviewError, ConnectorError) as error:
        raise fail(str(error), 1 if isinstance(error, PreviewError) else 2) from None
    finally:
        if store is not None:
            store.close()
    if as_json:
        print(json.dumps(jsonable({**shown.to_json(), "store_note": store_note})))
        return
    for panel in preview_panels(shown):
        console.print(panel)
    if store_note:
        console.print(f"note: {store_note}", style="yellow", markup=False, highlight=False)


def _old_mappings(against: str | None, old: list[Path] | None, config: Path | None) -> MappingSet:
    if old:
        return _load(_expand(old), "the old ")
    if against is None:
        raise fail("give --against REV or --old FILES")
    with tempfile.TemporaryDirectory(prefix="revbridge-mappings-") as folder:
        try:
            paths = export_mapping_files(against, _mapping_dir(config), Path(folder))
        except RevisionError as error:
            raise fail(str(error)) from None
        return _load(paths, f"the {against} ")


@mappings_app.command()
def diff(
    against: Annotated[
        str | None, typer.Option(help="git revision of the old mappings, e.g. HEAD~1.")
    ] = None,
    old: Annotated[
        list[Path] | None, typer.Option(help="Old mapping files or folder (repeatable).")
    ] = None,
    config: ConfigOption = None,
    database_url: DatabaseOption = None,
    samples: Annotated[int, typer.Option(min=0, help="Sample records per row.")] = 3,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when any output would change.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Impact of a mapping change on the stored records: which payloads would change."""
    if (against is None) == (not old):
        raise fail("give exactly one of --against REV or --old FILES")
    before = _old_mappings(against, old, config)
    after = _load(_mapping_files(None, config))
    url = database_url or (settings_from(config).database_url if config else None)
    if url is None:
        raise fail("name the state store with --config or --database-url")
    try:
        store = _existing_store(url)
    except StoreError as error:
        raise fail(str(error)) from None
    try:
        with store.engine.connect() as connection:
            refs = StoreRefResolver(store.engine)
            impacts = analyse_impact(connection, before, after, refs, samples)
    finally:
        store.close()
    if as_json:
        print(json.dumps({"impacts": [impact.to_json() for impact in impacts]}))
    else:
        console.print(impact_table(impacts))
        console.print(impact_samples(impacts))
    if exit_code and any(impact.changed for impact in impacts):
        raise typer.Exit(1)


@mappings_app.command()
def upgrade(
    files: FilesArgument = None,
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the changes; write nothing.")
    ] = False,
) -> None:
    """Rewrite format version 1 mapping files as version 2, keeping comments and layout."""
    paths = _mapping_files(files, config)
    problems = check_mapping_files(paths)  # the loader reads version 1 as version 2 already
    if problems:
        for problem in problems:
            console.print(str(problem), highlight=False, markup=False, soft_wrap=True)
        console.print("nothing rewritten: fix these problems first", style="bold")
        raise typer.Exit(2)
    for path in paths:
        upgraded = upgrade_text(path.read_text(encoding="utf-8"))
        if upgraded is None:
            console.print(f"{path}: already version 2", highlight=False, markup=False)
            continue
        text, changes = upgraded
        for change in changes:
            console.print(f"{path}: {change}", highlight=False, markup=False, soft_wrap=True)
        if not dry_run:
            path.write_text(text, encoding="utf-8")
            console.print(f"{path}: rewritten as version 2", highlight=False, markup=False)
