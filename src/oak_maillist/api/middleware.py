"""Per-request context: request id, access log, metrics, size limit, last-resort 500 body."""

from __future__ import annotations

import json
import re
import secrets
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oak_maillist.logging import get_logger
from oak_maillist.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLargeError(Exception):
    """The client sent more than the configured body limit."""


class RequestContextMiddleware:
    """Pure ASGI middleware, outermost of ours, so it sees every request and every failure."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or secrets.token_hex(8)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            if _has_nul(scope):
                status = 422
                await _send_error(
                    send_with_id,
                    422,
                    "invalid_character",
                    "NUL characters are not accepted in a request",
                )
            elif _declared_length(scope) > self.max_body_bytes:
                status = 413
                await _send_error(
                    send_with_id, 413, "payload_too_large", "The request body is too large"
                )
            else:
                await self.app(scope, _limited(receive, self.max_body_bytes), send_with_id)
        except BodyTooLargeError:
            status = 413
            if not response_started:
                await _send_error(
                    send_with_id, 413, "payload_too_large", "The request body is too large"
                )
        except Exception:
            log.exception("request_failed", method=scope["method"], path=scope["path"])
            status = 500
            if not response_started:
                await _send_error(send_with_id, 500, "internal_error", "Internal server error")
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info(
                "http_request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client=(scope.get("client") or ("", 0))[0],
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _REQUEST_ID.match(candidate) else None
    return None


def _has_nul(scope: Scope) -> bool:
    """A NUL in the path or query: no field takes one, and PostgreSQL text cannot hold it."""
    query = bytes(scope.get("query_string", b"")).lower()
    return b"%00" in query or b"\x00" in query or "\x00" in str(scope.get("path", ""))


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLargeError
        return message

    return wrapped


def _route_template(scope: Scope) -> str:
    """The path with its parameters put back as `{name}`, so metrics get one label per route."""
    if scope.get("route") is None:
        return "unmatched"
    segments = str(scope["path"]).split("/")
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        if "/" in text or not text:  # a {path:path} catch-all swallows the rest
            joined = "/".join(segments)
            return joined[: len(joined) - len(text)] + "{" + name + "}" if text else joined
        segments = [("{" + name + "}" if segment == text else segment) for segment in segments]
    return "/".join(segments)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
