"""The text log format writes one line per record, whatever its fields hold (no forged lines)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from pipeline.logs import TRACEBACK_INDENT, JsonFormatter, KeyValueFormatter, escape_controls

FORGED = "/x\n2026-01-01 00:00:00,000 INFO finsent.http: GET /admin 200\r\x1b[2J\u2028"


@pytest.fixture
def text_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("tests.logs.text")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_a_forged_line_in_the_message_and_the_extras_stays_on_one_line(
    text_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = text_log
    logger.warning("GET %s %.3fs", FORGED, 0.01, extra={"principal": FORGED})
    output = stream.getvalue()
    assert output.count("\n") == 1 and output.endswith("\n")
    line = output.rstrip("\n")
    assert "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert "/x\\n2026-01-01" in line and "\\r\\x1b[2J\\u2028" in line
    assert f"principal={escape_controls(FORGED)}" in line


def test_a_traceback_follows_on_indented_lines(text_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = text_log
    try:
        raise ValueError(FORGED)
    except ValueError:
        logger.exception("failed on %s", "/ok")
    first, *rest = stream.getvalue().rstrip("\n").split("\n")
    assert first.endswith("failed on /ok")
    assert rest and all(line.startswith(TRACEBACK_INDENT) for line in rest)
    assert any(line.endswith("ValueError: /x") for line in rest)  # the forged text continues, indented


def test_json_lines_escape_control_characters_too() -> None:
    record = logging.makeLogRecord({"msg": "GET %s", "args": (FORGED,), "levelname": "INFO", "path": FORGED})
    line = JsonFormatter().format(record)
    assert "\n" not in line and "\r" not in line
    assert json.loads(line)["msg"] == f"GET {FORGED}"
