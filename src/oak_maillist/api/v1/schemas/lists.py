"""Mailing lists as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from oak_maillist.api.deps import MAX_ID
from oak_maillist.api.v1.schemas.common import EmailAddress
from oak_maillist.services.system_settings import MAX_LIST_MESSAGE_SIZE, MIN_LIST_MESSAGE_SIZE

Visibility = Literal["public", "private"]
SubscriptionPolicy = Literal["open", "invite", "approval"]
PostingPolicy = Literal["members", "anyone", "moderated", "announce"]
NonmemberAction = Literal["hold", "reject", "discard"]
ReplyToMode = Literal["none", "list", "address"]
AiAction = Literal["hold", "accept", "mark", "reject", "discard"]
DmarcMitigation = Literal["munge_from", "wrap", "none"]
Language = Literal["en", "zh-CN"]


class _CommonSettings(BaseModel):
    """Settings whose default is fixed (the site's list defaults do not cover them)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    subject_prefix: str = Field(default="", max_length=100)
    reply_to_mode: ReplyToMode = "none"
    reply_to_address: EmailAddress | Literal[""] = ""
    footer: str = Field(default="", max_length=5000)
    ai_flagged_action: AiAction = "hold"
    ai_caution_action: AiAction = "mark"
    ai_on_error: AiAction = "hold"
    dmarc_mitigation: DmarcMitigation = "munge_from"
    personalize: bool = True
    emergency_hold: bool = False


class ListSettings(_CommonSettings):
    """Every list setting, as a list has them."""

    visibility: Visibility
    subscription_policy: SubscriptionPolicy
    posting_policy: PostingPolicy
    nonmember_action: NonmemberAction
    max_message_size: int = Field(ge=MIN_LIST_MESSAGE_SIZE, le=MAX_LIST_MESSAGE_SIZE)
    archive_enabled: bool
    archive_public: bool
    ai_moderation_enabled: bool
    language: Language


SITE_DEFAULT = "Omitted or null: the site's default for new lists (/settings, list_defaults)"


class ListCreate(_CommonSettings):
    domain_id: int = Field(ge=1, le=MAX_ID)
    local_part: str = Field(min_length=1, max_length=64, examples=["dev"])
    owner_ids: list[int] = Field(default_factory=list, max_length=20)
    visibility: Visibility | None = Field(default=None, description=SITE_DEFAULT)
    subscription_policy: SubscriptionPolicy | None = Field(default=None, description=SITE_DEFAULT)
    posting_policy: PostingPolicy | None = Field(default=None, description=SITE_DEFAULT)
    nonmember_action: NonmemberAction | None = Field(default=None, description=SITE_DEFAULT)
    max_message_size: int | None = Field(
        default=None,
        ge=MIN_LIST_MESSAGE_SIZE,
        le=MAX_LIST_MESSAGE_SIZE,
        description=SITE_DEFAULT,
    )
    archive_enabled: bool | None = Field(default=None, description=SITE_DEFAULT)
    archive_public: bool | None = Field(default=None, description=SITE_DEFAULT)
    ai_moderation_enabled: bool | None = Field(default=None, description=SITE_DEFAULT)
    language: Language | None = Field(default=None, description=SITE_DEFAULT)


class ListUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    visibility: Visibility | None = None
    subscription_policy: SubscriptionPolicy | None = None
    posting_policy: PostingPolicy | None = None
    nonmember_action: NonmemberAction | None = None
    subject_prefix: str | None = Field(default=None, max_length=100)
    reply_to_mode: ReplyToMode | None = None
    reply_to_address: EmailAddress | Literal[""] | None = None
    footer: str | None = Field(default=None, max_length=5000)
    max_message_size: int | None = Field(
        default=None, ge=MIN_LIST_MESSAGE_SIZE, le=MAX_LIST_MESSAGE_SIZE
    )
    archive_enabled: bool | None = None
    archive_public: bool | None = None
    ai_moderation_enabled: bool | None = None
    ai_flagged_action: AiAction | None = None
    ai_caution_action: AiAction | None = None
    ai_on_error: AiAction | None = None
    dmarc_mitigation: DmarcMitigation | None = None
    personalize: bool | None = None
    emergency_hold: bool | None = None
    language: Language | None = None
    is_active: bool | None = None


class ListCountsOut(BaseModel):
    subscribers: int
    messages: int
    pending_moderation: int


class ListOut(ListSettings):
    id: int
    domain_id: int
    local_part: str
    address: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    counts: ListCountsOut
    my_role: Literal["admin", "owner", "moderator"] | None


class ListRoleIn(BaseModel):
    email: EmailAddress
    role: Literal["owner", "moderator"]


class ListRoleOut(BaseModel):
    user_id: int
    email: str
    display_name: str
    role: Literal["owner", "moderator"]
