"""One error body for every 4xx and 5xx: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from oak_maillist.errors import AppError, RateLimitedError

STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else None
    return error_response(exc.status, exc.code, exc.message, _jsonable(exc.details), headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    fields = [
        {"field": _field_path(error["loc"]), "message": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{item['field']}: {item['message']}" for item in fields[:5])
    return error_response(
        422, "validation_error", f"Invalid request: {summary}", {"fields": fields}
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # RFC 9110 §15.5.6: Allow lists every method of the resource, not just one route's.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allowed_methods", None
    )
    if table is None:
        table = []
        for path, operations in request.app.openapi()["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")
            table.append((pattern, {method.upper() for method in operations}))
        request.app.state.allowed_methods = table
    # The most specific templates win, as in routing: /users/me over /users/{id}.
    matching = [
        (pattern.pattern.count("[^/]+"), verbs)
        for pattern, verbs in table
        if pattern.match(request.url.path)
    ]
    fewest = min((params for params, _ in matching), default=0)
    methods: set[str] = set()
    for params, verbs in matching:
        if params == fewest:
            methods |= verbs
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        if isinstance(value, (str, int, float, bool, list, dict, type(None)))
        else str(value)
        for key, value in details.items()
    }


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database refuses (a NUL in PostgreSQL text, say): the client's input."""
    return error_response(422, "invalid_value", "A value in the request cannot be stored")


async def _operational_error(_request: Request, exc: Exception) -> JSONResponse:
    """The database is busy (SQLite's writer lock held past the busy timeout): try again."""
    if "database is locked" in str(exc):
        return error_response(
            503, "database_busy", "The database is busy; try again", headers={"Retry-After": "1"}
        )
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping once; unexpected exceptions are handled by the request middleware."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
