"""Secrets never leave the process: not in logs, output, stored rows or exception text.

Every secret of these runs is a known marker string; each test greps everything a run leaves
behind for every marker, including failures raised inside simple-salesforce and zeep.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from config.loader import load_settings
from config.redaction import MASK, Redactor, install_redaction, secret_values
from config.settings import RetrySettings
from connectors.erp.connector import ErpConnector
from connectors.salesforce.connector import SalesforceConnector
from mappings.loader import load_mapping_set
from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.store import Store
from tests.cli_process import cli_env, revbridge

BILLING_KEY = "sk_test_MARKER_billing_5d1e"
ERP_CONSUMER_SECRET = "MARKER-erp-consumer-9b2"
ERP_TOKEN_SECRET = "MARKER-erp-token-4c7"
WRONG_SF_PASSWORD = "MARKER-wrong-sf-password-71"
WRONG_ERP_TOKEN = "MARKER-wrong-erp-token-38"

CONFIG = """\
version: 1
database_url: sqlite:///{database}
salesforce:
  login_url: {sf_url}
  username: {sf_user}
  password: ${{SF_PASSWORD}}
  security_token: ${{SF_SECURITY_TOKEN}}
  client_id: {sf_client_id}
  client_secret: ${{SF_CLIENT_SECRET}}
  ca_bundle: {ca_bundle}
billing:
  base_url: {billing_url}
  api_key: ${{BILLING_API_KEY}}
erp:
  wsdl_url: {wsdl_url}
  endpoint_url: {endpoint_url}
  account: {account}
  consumer_key: {consumer_key}
  consumer_secret: ${{NS_CONSUMER_SECRET}}
  token_id: {token_id}
  token_secret: ${{NS_TOKEN_SECRET}}
retry:
  attempts: 1
"""


@dataclass
class Project:
    """A config on disk for the marker sandboxes, and the environment holding its secrets."""

    config: Path
    database: Path
    environ: dict[str, str]
    markers: list[str]


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    boxes = Sandboxes(SandboxSize(accounts=5, orders=20, products=4))
    boxes.billing = BillingSandbox(api_key=BILLING_KEY)
    boxes.erp = ErpSandbox(consumer_secret=ERP_CONSUMER_SECRET, token_secret=ERP_TOKEN_SECRET)
    with boxes:
        yield boxes


@pytest.fixture
def project(sandboxes: Sandboxes, tmp_path: Path) -> Project:
    sf, erp = sandboxes.salesforce.credentials, sandboxes.erp.credentials
    database = tmp_path / "state.db"
    config = tmp_path / "revbridge.yaml"
    config.write_text(
        CONFIG.format(
            database=database,
            sf_url=sandboxes.salesforce.url,
            sf_user=sf.username,
            sf_client_id=sf.client_id,
            ca_bundle=sandboxes.salesforce.ca_bundle,
            billing_url=sandboxes.billing.url,
            wsdl_url=sandboxes.erp.wsdl_url,
            endpoint_url=sandboxes.erp.endpoint_url,
            account=erp.account,
            consumer_key=erp.consumer_key,
            token_id=erp.token_id,
        ),
        encoding="utf-8",
    )
    secrets = {
        "SF_PASSWORD": sf.password,
        "SF_SECURITY_TOKEN": sf.security_token,
        "SF_CLIENT_SECRET": sf.client_secret,
        "BILLING_API_KEY": BILLING_KEY,
        "NS_CONSUMER_SECRET": ERP_CONSUMER_SECRET,
        "NS_TOKEN_SECRET": ERP_TOKEN_SECRET,
    }
    markers = [*secrets.values(), WRONG_SF_PASSWORD, WRONG_ERP_TOKEN]
    return Project(config, database, {**os.environ, **secrets, "COLUMNS": "200"}, markers)


def _stored_text(database: Path) -> str:
    """Every row of every table of the store, as text."""
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return "\n".join(
                repr(row) for table in metadata.sorted_tables
                for row in connection.execute(sa.select(table))
            )  # fmt: skip
    finally:
        engine.dispose()


def _revbridge(project: Project, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        revbridge("--verbose", *args, "--config", str(project.config)),
        capture_output=True, text=True, timeout=120, check=False,
        env=cli_env({**project.environ, **overrides}),
    )  # fmt: skip


def _assert_no_marker(text: str, markers: list[str], what: str) -> None:
    leaked = [marker for marker in markers if marker in text]
    assert not leaked, f"{what} contains secret(s) {leaked}"


def test_a_run_with_rejections_leaves_no_secret_in_output_logs_or_rows(project: Project) -> None:
    outcome = _revbridge(project, "run", "--json")

    assert outcome.returncode == 0, outcome.stderr
    stored = _stored_text(project.database)
    assert "error_queue" in outcome.stdout or '"rejected"' in outcome.stdout
    assert "canonical" in stored or "Account" in stored  # rows were written: the grep means it
    _assert_no_marker(outcome.stdout + outcome.stderr, project.markers, "run output and logs")
    _assert_no_marker(stored, project.markers, "the store")


def test_a_refused_salesforce_password_leaves_no_secret_anywhere(project: Project) -> None:
    outcome = _revbridge(project, "run", SF_PASSWORD=WRONG_SF_PASSWORD)

    assert outcome.returncode == 1
    assert "refused" in outcome.stdout + outcome.stderr
    _assert_no_marker(outcome.stdout + outcome.stderr, project.markers, "run output and logs")
    _assert_no_marker(_stored_text(project.database), project.markers, "the store")


def test_an_erp_soap_fault_leaves_no_secret_anywhere(project: Project) -> None:
    outcome = _revbridge(project, "run", NS_TOKEN_SECRET=WRONG_ERP_TOKEN)

    stored = _stored_text(project.database)
    assert "invalidCredentialsFault" in outcome.stdout + outcome.stderr + stored
    _assert_no_marker(outcome.stdout + outcome.stderr, project.markers, "run output and logs")
    _assert_no_marker(stored, project.markers, "the store")


def test_check_with_wrong_secrets_prints_none_of_them(project: Project) -> None:
    outcome = _revbridge(
        project, "check", SF_PASSWORD=WRONG_SF_PASSWORD, NS_TOKEN_SECRET=WRONG_ERP_TOKEN
    )

    assert outcome.returncode == 3, outcome.stdout + outcome.stderr
    _assert_no_marker(outcome.stdout + outcome.stderr, project.markers, "check output")


def test_debug_logs_of_a_full_run_are_masked(project: Project, tmp_path: Path) -> None:
    settings = load_settings(project.config, project.environ)
    install_redaction(settings)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        # A secret in a message or a traceback, as a careless library might log it.
        logging.getLogger("some.library").debug("login with %s", ERP_TOKEN_SECRET)
        try:
            raise RuntimeError(f"request body password={BILLING_KEY}")
        except RuntimeError:
            logging.getLogger("some.library").exception("request failed")
        with open_connectors(settings) as connectors:
            SyncEngine(Store(settings.database_url), load_mapping_set(None), connectors,
                       QUOTE_TO_CASH).run()  # fmt: skip
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    logged = stream.getvalue()

    assert "zeep" in logged or "urllib3" in logged or "HTTP" in logged  # DEBUG lines were seen
    assert f"login with {MASK}" in logged
    assert f"password={MASK}" in logged
    _assert_no_marker(logged, project.markers, "DEBUG logs")


def test_client_library_exceptions_carry_no_secret(project: Project) -> None:
    settings = load_settings(project.config, project.environ)
    retry = RetrySettings(attempts=1)
    wrong_login = settings.salesforce.model_copy(update={"password": SecretStr(WRONG_SF_PASSWORD)})
    wrong_token = settings.erp.model_copy(update={"token_secret": SecretStr(WRONG_ERP_TOKEN)})
    failures: list[BaseException] = []
    for connector in (
        SalesforceConnector(wrong_login, retry),
        ErpConnector(wrong_token, retry, wsdl_cache=None),
    ):
        with pytest.raises(Exception) as caught:
            connector.check()
        failures.append(caught.value)
        connector.close()

    for failure in failures:
        text = "".join(traceback.format_exception(failure))  # causes and contexts included
        _assert_no_marker(text, project.markers, f"{type(failure).__name__} text")
        assert "refused" in text or "Fault" in text


def test_redactor_masks_plain_url_and_xml_escaped_forms() -> None:
    redactor = Redactor(["p&ss w/rd"])

    assert redactor.mask("a p&ss w/rd b") == f"a {MASK} b"
    assert redactor.mask("password=p%26ss+w%2Frd") == f"password={MASK}"
    assert redactor.mask("<pw>p&amp;ss w/rd</pw>") == f"<pw>{MASK}</pw>"
    assert redactor.mask_payload({"k": ["x p&ss w/rd"], "n": 1}) == {"k": [f"x {MASK}"], "n": 1}


def test_secret_values_include_the_database_password(project: Project) -> None:
    settings = load_settings(project.config, project.environ)
    with_password = settings.model_copy(
        update={"database_url": "postgresql://revbridge:MARKER-db-pw@db/revbridge"}
    )

    found = secret_values(with_password)

    assert "MARKER-db-pw" in found
    assert BILLING_KEY in found
    assert ERP_TOKEN_SECRET in found
