"""Log lines are structured, carry context, and never show secrets."""

from __future__ import annotations

import io
import json
import logging

import structlog

from oak_maillist.config import LoggingSettings
from oak_maillist.logging import configure_logging, get_logger


def _capture(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(LoggingSettings(level="info", format=fmt), stream=stream)  # type: ignore[arg-type]
    return stream


def test_json_lines_carry_context_and_hide_secrets() -> None:
    stream = _capture("json")
    structlog.contextvars.bind_contextvars(request_id="req-1")
    try:
        get_logger("t").info(
            "login",
            user_id=7,
            password="hunter2",
            refresh_token="abc.def",
            smtp={"password": "p4ss", "host": "h"},
            note="connecting to postgres://oak:dbpass@db/oak",
        )
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["event"] == "login"
    assert line["request_id"] == "req-1"
    assert line["user_id"] == 7
    assert line["level"] == "info"
    assert "timestamp" in line
    text = stream.getvalue()
    for secret in ("hunter2", "abc.def", "p4ss", "dbpass"):
        assert secret not in text
    assert line["smtp"]["host"] == "h"


def test_stdlib_loggers_go_through_the_same_renderer() -> None:
    stream = _capture("json")
    logging.getLogger("uvicorn.error").warning("Authorization: Bearer sekret-token-value")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["logger"] == "uvicorn.error"
    assert "sekret-token-value" not in line["event"]


def test_pretty_format_is_not_json() -> None:
    stream = _capture("pretty")
    get_logger("t").info("hello", list_id=3)
    out = stream.getvalue()
    assert "hello" in out
    assert "list_id=3" in out
    assert not out.lstrip().startswith("{")
