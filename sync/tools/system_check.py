"""``revbridge check``: validate config and mappings, then probe each system and the store.

Each probe returns a :class:`CheckRow`. A failed row carries the exit code of its class of
failure, so the command can exit with the first one, in table order:

====  ==========================================================================
code  meaning
====  ==========================================================================
0     every check passed (warnings, such as a store not created yet, allowed)
2     the configuration or the mappings are invalid (no system was contacted)
3     a system refused the credentials
4     a system is unreachable, or answers in a way that shows it is misconfigured
5     the state store can't be opened
====  ==========================================================================
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

from config.redaction import Redactor
from config.settings import RetrySettings, Settings
from connectors.base import Connector
from connectors.billing.stripe.lookup import LookupChoice
from connectors.errors import AuthError, ConnectorError
from mappings.errors import MappingConfigError
from mappings.loader import check_mapping_files, load_mapping_set, mapping_files_for
from sync.engine.connections import open_connectors
from sync.store import Store
from sync.store.database import StoreError
from sync.tools.live_check import check_live
from sync.tools.positions import MappingPositions

EXIT_CONFIG = 2
EXIT_AUTH = 3
EXIT_UNREACHABLE = 4
EXIT_STORE = 5
_SUITE_VERSION = re.compile(r"urn:(?:core|messages)_(\d{4}_\d)\.")


class CheckStatus(StrEnum):
    """How one check went."""

    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"


@dataclass(frozen=True)
class CheckRow:
    """One line of the check table: what was checked, how it went, what was seen."""

    name: str
    status: CheckStatus
    detail: str
    exit_code: int = 0
    # What to do next when the detail's own advice is all there is (else the exit code's).
    next_step: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {**asdict(self), "status": self.status.value}


def _ok(name: str, detail: str) -> CheckRow:
    return CheckRow(name, CheckStatus.OK, detail)


def _failed(name: str, detail: str, exit_code: int) -> CheckRow:
    return CheckRow(name, CheckStatus.FAILED, detail, exit_code)


def mapping_paths(settings: Settings) -> list[Path]:
    """The mapping files the configuration points at (its profile's shipped ones if none)."""
    return mapping_files_for(settings)


def check_mappings(settings: Settings) -> CheckRow:
    """Every mapping problem, as file:line:col lines, or how many files are valid."""
    paths = mapping_paths(settings)
    if not paths:
        where = settings.mappings_dir
        return _failed("mappings", f"no *.yaml mapping files in {where}", EXIT_CONFIG)
    problems = check_mapping_files(paths)
    if problems:
        return _failed("mappings", "\n".join(str(p) for p in problems), EXIT_CONFIG)
    return _ok("mappings", f"{len(paths)} files valid: " + ", ".join(p.name for p in paths))


def check_connections(settings: Settings, redactor: Redactor) -> Iterator[CheckRow]:
    """Authenticate against each system with one cheap call and report what it said."""
    yield check_wsdl(settings.erp.wsdl_url, settings.erp.timeout_seconds)
    # One attempt each: check reports what it sees now, instead of backing off for a minute.
    once = settings.model_copy(update={"retry": RetrySettings(attempts=1)})
    with ExitStack() as stack:
        try:
            connectors = stack.enter_context(open_connectors(once))
        except ConnectorError as error:  # e.g. a ca_bundle that is not there: a row, not a crash
            detail = redactor.mask(f"misconfigured: {error.message}")
            yield _failed(error.system or "connections", detail, EXIT_UNREACHABLE)
            return
        reached = set()
        for system, connector in connectors.items():
            row = _probe(system, connector, _DESCRIBE.get(system, _plain), settings, redactor)
            yield row
            if row.status is CheckStatus.OK:
                reached.add(system)
            lookup = getattr(connector, "lookup_choice", None)
            if row.status is CheckStatus.OK and isinstance(lookup, LookupChoice):
                yield _lookup_row(lookup, redactor)
                yield from _events_row(connector, settings, redactor)
        if "salesforce" in reached:  # a field typo fails here, not on the first run
            yield check_mapped_fields(settings, connectors, reached, redactor)


def check_mapped_fields(
    settings: Settings, connectors: Mapping[str, Connector], reached: set[str], redactor: Redactor
) -> CheckRow:
    """Mapped field names and types against Salesforce's describe (and the ERP's WSDL)."""
    name = "mapped fields"
    paths = mapping_paths(settings)
    describe = getattr(connectors.get("salesforce"), "describe", None)
    record_type = getattr(connectors.get("erp"), "record_type", None) if "erp" in reached else None
    try:
        report = check_live(
            load_mapping_set(paths),
            MappingPositions(paths),
            describe if callable(describe) else None,
            record_type if callable(record_type) else None,
        )
    except (ConnectorError, MappingConfigError) as error:
        return _failed(name, redactor.mask(f"field check stopped: {error}"), EXIT_UNREACHABLE)
    if report.problems:
        return _failed(name, "\n".join(str(problem) for problem in report.problems), EXIT_CONFIG)
    checked = sorted({"salesforce", *(["erp"] if callable(record_type) else [])})
    return _ok(name, f"every mapped field exists in {' and '.join(checked)}")


def _lookup_row(lookup: LookupChoice, redactor: Redactor) -> CheckRow:
    """How the Stripe profile finds objects it has no id for (``billing.lookup``)."""
    status = CheckStatus.WARNING if lookup.fell_back else CheckStatus.OK
    return CheckRow("billing lookup", status, redactor.mask(lookup.detail))


def _events_row(connector: Connector, settings: Settings, redactor: Redactor) -> Iterator[CheckRow]:
    """Whether the Stripe key may read ``GET /v1/events``, which billing reads follow: a
    failure where a flow reads from billing, else a warning (nothing needs events yet)."""
    check_events = getattr(connector, "check_events", None)
    if not callable(check_events):
        return
    name = "billing events"
    try:
        if not check_events():
            return
    except ConnectorError as error:
        detail = redactor.mask(error.message)
        if not any(flow.source == "billing" for flow in settings.flows):
            yield CheckRow(name, CheckStatus.WARNING, f"{detail} (no flow reads billing yet)")
        elif isinstance(error, AuthError):
            again = "change the key's permissions, then run `revbridge check` again"
            yield CheckRow(name, CheckStatus.FAILED, detail, EXIT_AUTH, next_step=again)
        else:
            yield _failed(name, detail, EXIT_UNREACHABLE)
        return
    yield _ok(name, "GET /v1/events readable (invoice, payment and refund changes)")


def _probe(
    system: str,
    connector: Connector,
    describe: Callable[[Connector, Settings], str],
    settings: Settings,
    redactor: Redactor,
) -> CheckRow:
    started = time.perf_counter()
    try:
        connector.check()
    except AuthError as error:
        return _failed(system, redactor.mask(f"credentials refused: {error}"), EXIT_AUTH)
    except ConnectorError as error:
        return _failed(
            system, redactor.mask(f"unreachable or misconfigured: {error}"), EXIT_UNREACHABLE
        )
    except Exception as error:
        detail = f"unexpected {type(error).__name__}: {error}"
        return _failed(system, redactor.mask(detail), EXIT_UNREACHABLE)
    elapsed = f"{(time.perf_counter() - started) * 1000:.0f} ms"
    return _ok(system, f"{describe(connector, settings)} ({elapsed})")


def _plain(connector: Connector, settings: Settings) -> str:
    return "authenticated"


def _salesforce(connector: Connector, settings: Settings) -> str:
    version = f"authenticated; API v{settings.salesforce.api_version}"
    usage = getattr(connector, "api_usage", None)
    if usage is None:
        return f"{version}; API allocation not reported"
    used, allowed = usage
    return f"{version}; {allowed - used:,} of {allowed:,} daily API calls left"


def _billing(connector: Connector, settings: Settings) -> str:
    return f"authenticated at {settings.billing.base_url}"


def _erp(connector: Connector, settings: Settings) -> str:
    endpoint = settings.erp.endpoint_url or "the WSDL's service address"
    return f"authenticated (getServerTime) for account {settings.erp.account} at {endpoint}"


_DESCRIBE: dict[str, Callable[[Connector, Settings], str]] = {
    "salesforce": _salesforce,
    "billing": _billing,
    "erp": _erp,
}


def check_wsdl(wsdl_url: str, timeout: float) -> CheckRow:
    """Fetch the ERP's WSDL (URL or file) and name the SuiteTalk version it declares."""
    name = "erp wsdl"
    started = time.perf_counter()
    try:
        if urlsplit(wsdl_url).scheme in {"http", "https"}:
            response = requests.get(wsdl_url, timeout=timeout)
            if response.status_code != 200:
                return _failed(
                    name, f"{wsdl_url} answered HTTP {response.status_code}", EXIT_UNREACHABLE
                )
            text = response.text
        else:
            text = Path(wsdl_url.removeprefix("file://")).read_text(encoding="utf-8")
    except (requests.RequestException, OSError) as error:
        return _failed(name, f"{wsdl_url} unreachable: {type(error).__name__}", EXIT_UNREACHABLE)
    if "definitions" not in text:
        return _failed(name, f"{wsdl_url} is not a WSDL document", EXIT_UNREACHABLE)
    match = _SUITE_VERSION.search(text)
    version = f"SuiteTalk {match.group(1)}" if match else "no SuiteTalk version declared"
    elapsed = (time.perf_counter() - started) * 1000
    return _ok(name, f"reachable; {version}; {len(text) // 1024:,} KB in {elapsed:.0f} ms")


def check_store(database_url: str) -> CheckRow:
    """The store's migration state; read-only (``revbridge db upgrade`` migrates)."""
    name = "state store"
    url = sa.make_url(database_url)
    display = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return CheckRow(name, CheckStatus.WARNING, f"{display} not created yet; {_UPGRADE}")
    store = Store(database_url, migrate=False)
    try:
        current, head = store.current_revision(), store.head_revision()
    except (StoreError, sa.exc.SQLAlchemyError) as error:
        reason = str(error) if isinstance(error, StoreError) else type(error).__name__
        return _failed(name, f"cannot open {display}: {reason}", EXIT_STORE)
    finally:
        store.close()
    if current == head:
        return _ok(name, f"{display} at migration {head} (latest)")
    state = "empty" if current is None else f"at migration {current}"
    return CheckRow(name, CheckStatus.WARNING, f"{display} {state}, latest is {head}; {_UPGRADE}")


_UPGRADE = "`revbridge db upgrade` (or the first `revbridge run`) migrates it"


def first_failure(rows: list[CheckRow]) -> CheckRow | None:
    """The first failed row, whose exit code the command exits with."""
    return next((row for row in rows if row.status is CheckStatus.FAILED), None)
