"""Domain errors: each has a stable code, an HTTP status and a message template."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of every error the service reports to a client.

    Subclasses set `code` (stable, machine-readable, translated by the web app), `status`
    and `template`; keyword arguments fill the template and become the error's details.
    """

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    template: ClassVar[str] = "Internal error"
    # Commit the request's transaction although it fails: a failed login's counter, a revoked
    # session after token reuse, the activity log entry that records either.
    persist: ClassVar[bool] = False

    def __init__(self, message: str | None = None, /, **details: Any) -> None:
        self.details = details
        self.message = message or self.template.format(**details)
        super().__init__(self.message)


class BadRequestError(AppError):
    code = "bad_request"
    status = 400
    template = "The request is not valid"


class InvalidInputError(AppError):
    code = "invalid_input"
    status = 422
    template = "The request is not valid"


class NotAuthenticatedError(AppError):
    code = "not_authenticated"
    status = 401
    template = "Authentication is required"


class ForbiddenError(AppError):
    code = "forbidden"
    status = 403
    template = "You are not allowed to do this"


class NotFoundError(AppError):
    code = "not_found"
    status = 404
    template = "Not found"


class ConflictError(AppError):
    code = "conflict"
    status = 409
    template = "The request conflicts with the current state"


class PayloadTooLargeError(AppError):
    code = "payload_too_large"
    status = 413
    template = "The request body is too large"


class RateLimitedError(AppError):
    code = "rate_limited"
    status = 429
    template = "Too many requests; retry after {retry_after} seconds"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after


class ServiceUnavailableError(AppError):
    code = "service_unavailable"
    status = 503
    template = "The service is not ready"
