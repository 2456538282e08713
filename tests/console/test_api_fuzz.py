"""The JSON API fuzzed by schemathesis against its own OpenAPI document: no 500, ever.

Every operation is called with examples generated from its parameters and bodies (bounded,
so CI stays fast), signed in with a session and its CSRF token: as a viewer (reads answer,
actions are refused) and as support staff (resolve and ignore act on seeded entries). Every
answer must be a non-5xx that matches the response model the document declares.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from sync.console.auth import CSRF_HEADER, SESSION_COOKIE
from sync.console.context import utc_now
from sync.store import Store
from sync.store.conflict_log import ConflictEntry, ConflictStatus, log_conflicts
from sync.store.runs import finish_run, start_run
from sync.store.schema import RunStatus
from sync.store.user_sessions import open_session
from tests.console.conftest import ConsoleUsers
from tests.console.error_rows import error_values, insert_errors

# Retry and conflict resolution reach the configured systems (unreachable here by design):
# their refusals are tested in test_api_errors.py and test_api_records_runs.py.
REACHES_SYSTEMS = {"/api/errors/retry", "/api/conflicts/{target_system}/{canonical_id}/resolve"}
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)  # fmt: skip


def _seed(store: Store) -> None:
    with store.transaction() as connection:
        run_id = start_run(connection, "quote-to-cash")
        finish_run(connection, run_id, RunStatus.PARTIAL, {"entities": {"order": {"erp": {}}}})
        insert_errors(connection, [error_values(n, run_id=run_id) for n in range(20)])
        log_conflicts(connection, [ConflictEntry(
            "order", "c-1", "billing", "amount", 1, {"x": [1]}, None, "manual", "held",
            "salesforce", "801", ConflictStatus.OPEN,
        )], run_id)  # fmt: skip


def _session_headers(users: ConsoleUsers, role: str) -> dict[str, str]:
    name = users.add(f"fuzz-{role}", role)  # type: ignore[arg-type]
    opened = open_session(users.store, name, utc_now(), timedelta(hours=1))
    return {"Cookie": f"{SESSION_COOKIE}={opened.session_id}", CSRF_HEADER: opened.csrf_token}


def test_no_operation_answers_5xx(
    console_app: FastAPI, console_users: ConsoleUsers, store: Store
) -> None:
    _seed(store)
    headers = {role: _session_headers(console_users, role) for role in ("viewer", "support")}
    schema = schemathesis.openapi.from_asgi(
        "/api/openapi.json", console_app, headers=headers["viewer"]
    )
    every = [result.ok() for result in schema.get_all_operations()]
    operations = [operation for operation in every if operation.path.startswith("/api/")]
    assert len(operations) >= 13

    for operation in operations:
        acting = operation.method.upper() != "GET" and operation.path not in REACHES_SYSTEMS
        _fuzz(operation, headers["support" if acting else "viewer"])


def _fuzz(operation: Any, signed_in: dict[str, str]) -> None:
    @FUZZ
    @given(case=operation.as_strategy())
    def call(case: Any) -> None:
        case.call_and_validate(
            headers=signed_in, checks=[not_a_server_error, response_schema_conformance]
        )

    call()
