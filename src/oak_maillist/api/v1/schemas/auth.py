"""Sign-in, tokens, sessions and users as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oak_maillist.api.v1.schemas.common import EmailAddress

Language = Literal["en", "zh-CN"]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    language: str
    role: str
    is_active: bool
    totp_enabled: bool
    created_at: datetime
    last_login_at: datetime | None


class MeOut(UserOut):
    """The caller, and how many lists they own or moderate (the web app's menu needs it)."""

    owned_lists: int
    moderated_lists: int


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RegisterIn(BaseModel):
    email: EmailAddress
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(default="", max_length=200)
    language: Language = "en"
    invitation_token: str | None = Field(default=None, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    user: UserOut


class MfaRequiredOut(BaseModel):
    mfa_required: Literal[True] = True
    mfa_token: str
    methods: list[str]
    expires_in: int


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    id: int
    user_agent: str
    ip_address: str
    auth_method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool


class RevokedOut(BaseModel):
    revoked: int


class SetupStatusOut(BaseModel):
    setup_required: bool


class SetupIn(BaseModel):
    email: EmailAddress
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(default="", max_length=200)
    language: Language = "en"
