"""Subscribers as the API shows them, and the report of a CSV import."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oak_maillist.api.v1.schemas.common import NO_CONTROL_CHARS, EmailAddress
from oak_maillist.models import DigestFormat, DigestMode, SubscriberStatus

# What an owner may set; pending, invited, awaiting approval and bouncing come from processes.
OwnerStatus = Literal["active", "disabled", "unsubscribed"]
Language = Literal["en", "zh-CN"]
# No control characters: names go into mail headers and CSV files; PostgreSQL refuses NUL.


class SubscriberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    status: SubscriberStatus
    digest_mode: DigestMode
    digest_format: DigestFormat
    language: str
    source: str
    bounce_score: int
    subscribed_at: datetime | None
    unsubscribed_at: datetime | None
    created_at: datetime


class SubscriberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    name: str = Field(default="", max_length=200, pattern=NO_CONTROL_CHARS)
    digest_mode: DigestMode = DigestMode.NONE
    digest_format: DigestFormat = DigestFormat.MIME
    status: OwnerStatus = "active"
    language: Language | None = Field(default=None, description="Default: the list's language")


class SubscriberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, pattern=NO_CONTROL_CHARS)
    status: OwnerStatus | None = None
    digest_mode: DigestMode | None = None
    digest_format: DigestFormat | None = None
    language: Language | None = None


class SubscriptionRequestOut(BaseModel):
    """A confirmed address waiting for an owner; `id` is its subscriber id."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    language: str
    digest_mode: DigestMode
    source: str
    waiting_since: datetime = Field(validation_alias="updated_at")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        default="",
        max_length=1000,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$",
        description="Told to the requester; may be empty",
    )


class ImportRowError(BaseModel):
    line: int = Field(description="Physical line in the file; the header is line 1")
    email: str
    reason: Literal[
        "invalid_email",
        "invalid_digest_mode",
        "duplicate_in_file",
        "already_subscribed",
        "missing_email",
        "too_many_columns",
        "invalid_encoding",
        "malformed_row",
    ]
    message: str


class ImportResult(BaseModel):
    dry_run: bool = Field(description="True: nothing was written; counts say what would be")
    mode: Literal["active", "confirm"]
    total_rows: int = Field(ge=0, description="Data rows read (blank lines not counted)")
    imported: int = Field(
        ge=0, description="Rows added: active, or (mode=confirm) pending and sent a confirmation"
    )
    skipped: int = Field(ge=0, description="Rejected rows; each one is reported")
    skipped_by_reason: dict[str, int]
    errors: list[ImportRowError] = Field(description="The first 1,000 rejected rows, by line")
    errors_truncated: bool = Field(description="More rows were rejected than `errors` lists")
