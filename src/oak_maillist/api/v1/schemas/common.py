"""Shapes every endpoint shares: pages and the error body."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field

ItemT = TypeVar("ItemT")

# Text without control characters (NUL among them, which the request middleware refuses).
NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"

# An address as people type it: validated by email-validator (no DNS), at most 320 characters.
EmailAddress = Annotated[EmailStr, Field(max_length=320)]


class Page(BaseModel, Generic[ItemT]):
    """One page of a listing."""

    items: list[ItemT]
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    per_page: int = Field(ge=1)


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable error code")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    model_config = ConfigDict(title="Error")

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413, 422, 429)
}
