"""Public subscription requests and the answers the web app's pages show."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from oak_maillist.api.v1.schemas.common import EmailAddress

DigestMode = Literal["none", "daily", "weekly"]
DigestFormat = Literal["mime", "plain"]


class SubscribeIn(BaseModel):
    email: EmailAddress
    name: str = Field(default="", max_length=200)
    language: Literal["en", "zh-CN"] = "en"
    digest_mode: DigestMode = "none"


class SubscribeOut(BaseModel):
    status: Literal["check_your_mail"] = "check_your_mail"
    message: str = "If the address can join, a confirmation message is on its way."


class TokenIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class SubscriptionOut(BaseModel):
    status: str
    list_name: str
    email: str


class PreferencesOut(BaseModel):
    list_id: int
    list_name: str
    email: str
    digest_mode: DigestMode
    digest_format: DigestFormat
    status: str


class PreferencesIn(TokenIn):
    digest_mode: DigestMode
    digest_format: DigestFormat | None = Field(default=None, description="Default: unchanged")
