"""Structured log lines: run context on every line, rejection fields, JSON and human forms."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from config.redaction import REDACTOR
from sync.service.logs import LogFormat, bind_run_context, configure_logging, run_context

SECRET = "marker-secret-7f3a9c"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_run_context_set_by_the_runner(log_stream: io.StringIO) -> None:
    configure_logging(LogFormat.JSON, stream=log_stream)
    with run_context(flow="quote-to-cash"):
        logging.getLogger("revbridge.serve").info("starting")
        bind_run_context(run_id=42)
        logging.getLogger("revbridge.serve").info("page committed")
    logging.getLogger("revbridge.serve").info("outside any run")

    first, second, third = _json_lines(log_stream)
    assert first["flow"] == "quote-to-cash"
    assert "run_id" not in first
    assert second["run_id"] == 42
    assert second["flow"] == "quote-to-cash"
    assert second["level"] == "INFO"
    assert second["logger"] == "revbridge.serve"
    assert "flow" not in third


def test_a_rejection_line_names_entity_record_stage_and_target(log_stream: io.StringIO) -> None:
    configure_logging(LogFormat.JSON, stream=log_stream)
    with run_context(flow="quote-to-cash", run_id=7):
        logging.getLogger("revbridge.sync").warning(
            "rejected %s %s at %s%s: %s", "order", "8015g0000000002AAA", "write", " for erp", "bad"
        )
        logging.getLogger("revbridge.sync").warning(
            "rejected %s %s at %s%s: %s", "account", "0015g0000000005AAA", "validate", "", "bad"
        )

    delivery, capture = _json_lines(log_stream)
    assert delivery["run_id"] == 7
    assert delivery["entity"] == "order"
    assert delivery["record_id"] == "8015g0000000002AAA"
    assert delivery["stage"] == "write"
    assert delivery["target_system"] == "erp"
    assert capture["entity"] == "account"
    assert "target_system" not in capture


def test_fields_passed_as_extra_win_over_the_context(log_stream: io.StringIO) -> None:
    configure_logging(LogFormat.JSON, stream=log_stream)
    with run_context(flow="quote-to-cash", run_id=1):
        logging.getLogger("revbridge.sync").warning(
            "rejected %s %s at %s%s: %s",
            "order",
            "801A",
            "map",
            "",
            "bad",
            extra={"run_id": 2, "record_id": "801B"},
        )
    (line,) = _json_lines(log_stream)
    assert line["run_id"] == 2
    assert line["record_id"] == "801B"


def test_human_lines_show_scalar_context_and_leave_nested_counts_out(
    log_stream: io.StringIO,
) -> None:
    configure_logging(LogFormat.HUMAN, stream=log_stream)
    with run_context(flow="quote-to-cash", run_id=3):
        logging.getLogger("revbridge.serve").info(
            "run 3 finished", extra={"systems": {"erp": {"created": 1}}, "status": "succeeded"}
        )
    line = log_stream.getvalue().strip()
    assert (
        "INFO revbridge.serve [run_id=3 flow=quote-to-cash status=succeeded] run 3 finished" in line
    )
    assert "systems" not in line
    assert line.split(" ", 1)[0].endswith("Z")


def test_known_secrets_never_reach_a_line_even_in_tracebacks(log_stream: io.StringIO) -> None:
    REDACTOR.add([SECRET])
    configure_logging(LogFormat.JSON, stream=log_stream)
    logger = logging.getLogger("revbridge.serve")
    logger.warning("token was %s", SECRET)
    try:
        raise RuntimeError(f"client said {SECRET}")
    except RuntimeError:
        logger.exception("call failed")

    text = log_stream.getvalue()
    assert SECRET not in text
    warning, failure = _json_lines(log_stream)
    assert warning["message"] == "token was ***"
    assert "client said ***" in str(failure["exception"])
