"""Structured logs through structlog, pretty or JSON, with secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

from oak_maillist.config import LoggingSettings

REDACTED = "[redacted]"
# A key is secret when one of its words is one of these ("access_token", "smtp_password").
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "authorization",
        "cookie",
        "apikey",
        "key",
        "credential",
        "credentials",
        "signature",
        "totp",
        "otp",
        "code",
        "codes",
        "body",
        "raw",
    }
)
_NOT_SECRET = frozenset({"status_code", "list_key", "error_code", "reply_code"})
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+):[^@\s]+@", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def redact_value(value: str) -> str:
    """Hide passwords inside URLs and bearer tokens inside free text."""
    value = _URL_PASSWORD.sub(r"\g<scheme>:" + REDACTED + "@", value)
    return _BEARER.sub(r"\1" + REDACTED, value)


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    if lowered in _NOT_SECRET:
        return False
    return any(word in _SECRET_WORDS for word in re.split(r"[_\-.]", lowered))


def drop_color_message(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """uvicorn adds an ANSI-coloured copy of its message; the plain one is enough."""
    event_dict.pop("color_message", None)
    return event_dict


def _redact(data: MutableMapping[str, Any]) -> None:
    for key, value in list(data.items()):
        if key in ("event", "level", "timestamp", "logger", "request_id"):
            if isinstance(value, str):
                data[key] = redact_value(value)
            continue
        if _is_secret_key(key):
            data[key] = REDACTED
        elif isinstance(value, str):
            data[key] = redact_value(value)
        elif isinstance(value, dict):
            copied = dict(value)
            _redact(copied)
            data[key] = copied


def redact_secrets(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: no secret or message body ever reaches a log line."""
    _redact(event_dict)
    return event_dict


def configure_logging(settings: LoggingSettings, *, stream: Any = None) -> None:
    """Route structlog and the standard library's loggers through one renderer."""
    level = getattr(logging, settings.level.upper())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        drop_color_message,
        redact_secrets,
    ]
    renderer: Processor
    if settings.format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        # Plain tracebacks: rich ones print local variables, which may hold secrets.
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        # Events below the level are dropped first, before any processor works on them.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "taskiq", "aiosmtpd", "mail.log"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # uvicorn's access log repeats our own request log line; SQL echo would log message data.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(max(level, logging.WARNING))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger bound to a module name."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
