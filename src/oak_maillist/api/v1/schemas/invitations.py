"""Invitations to a list: what owners send and see, and what the invitee's page shows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oak_maillist.api.v1.schemas.common import NO_CONTROL_CHARS, EmailAddress
from oak_maillist.services.invitations import MAX_INVITEES

# A personal note may run over several lines; other control characters are refused.
NOTE_CHARS = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"


class InviteeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    name: str = Field(default="", max_length=200, pattern=NO_CONTROL_CHARS)


class ListInvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invitees: list[InviteeIn] = Field(min_length=1, max_length=MAX_INVITEES)
    note: str = Field(
        default="", max_length=2000, pattern=NOTE_CHARS, description="A personal note in the mail"
    )
    language: Literal["en", "zh-CN"] | None = Field(
        default=None, description="Language of the mail; default: the list's language"
    )


class ListInvitationOut(BaseModel):
    id: int
    email: str
    name: str
    language: str
    invited_by_id: int | None
    created_at: datetime
    expires_at: datetime


class SkippedInvitee(BaseModel):
    email: str
    reason: Literal["already_subscribed", "invalid_email"]


class ListInvitationsCreated(BaseModel):
    invited: list[ListInvitationOut] = Field(description="Each was mailed an invitation link")
    skipped: list[SkippedInvitee]


class InvitationPreview(BaseModel):
    """What the invitation page shows before the invitee accepts: the list, nothing more."""

    list_name: str
    list_description: str
