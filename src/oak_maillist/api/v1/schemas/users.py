"""Users, invitations, settings and the activity log as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from oak_maillist.api.v1.schemas.auth import Language
from oak_maillist.api.v1.schemas.common import EmailAddress

Role = Literal["admin", "user"]


class UserCreate(BaseModel):
    email: EmailAddress
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(default="", max_length=200)
    language: Language = "en"
    role: Role = "user"


class UserUpdate(BaseModel):
    """Fields an administrator may change; absent fields stay as they are."""

    display_name: str | None = Field(default=None, max_length=200)
    language: Language | None = None
    role: Role | None = None
    is_active: bool | None = None


class ProfileUpdate(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    language: Language | None = None


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordChanged(BaseModel):
    other_sessions_revoked: int


class InvitationCreate(BaseModel):
    email: EmailAddress
    role: Role = "user"


class InvitationOut(BaseModel):
    id: int
    email: str
    role: str
    expires_at: datetime
    invite_url: str = Field(description="Registration link carrying the single-use token")


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    actor_id: int | None
    action: str
    target_type: str
    target_id: str
    list_id: int | None
    ip_address: str
    user_agent: str
    details: dict[str, Any]
    created_at: datetime
