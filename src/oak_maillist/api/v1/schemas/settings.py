"""Runtime settings as administrators see and change them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oak_maillist.api.v1.schemas.lists import (
    Language,
    NonmemberAction,
    PostingPolicy,
    SubscriptionPolicy,
    Visibility,
)
from oak_maillist.services.system_settings import MAX_LIST_MESSAGE_SIZE, MIN_LIST_MESSAGE_SIZE

RegistrationMode = Literal["open", "invite", "closed"]


class ListDefaultsOut(BaseModel):
    visibility: Visibility
    subscription_policy: SubscriptionPolicy
    posting_policy: PostingPolicy
    nonmember_action: NonmemberAction
    max_message_size: int
    archive_enabled: bool
    archive_public: bool
    language: Language
    ai_moderation_enabled: bool


class ListDefaultsUpdate(BaseModel):
    """Any subset of the defaults; the others stay as they are."""

    model_config = ConfigDict(extra="forbid")

    visibility: Visibility | None = None
    subscription_policy: SubscriptionPolicy | None = None
    posting_policy: PostingPolicy | None = None
    nonmember_action: NonmemberAction | None = None
    max_message_size: int | None = Field(
        default=None, ge=MIN_LIST_MESSAGE_SIZE, le=MAX_LIST_MESSAGE_SIZE
    )
    archive_enabled: bool | None = None
    archive_public: bool | None = None
    language: Language | None = None
    ai_moderation_enabled: bool | None = None


class SettingsOut(BaseModel):
    registration_mode: RegistrationMode
    site_name: str
    default_language: Language
    list_defaults: ListDefaultsOut = Field(
        description="What a new list gets unless its creator says"
    )


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registration_mode: RegistrationMode | None = None
    site_name: str | None = Field(default=None, min_length=1, max_length=100)
    default_language: Language | None = None
    list_defaults: ListDefaultsUpdate | None = None
