"""Mailing lists as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from oak_maillist.api.deps import MAX_ID
from oak_maillist.api.v1.schemas.common import EmailAddress

Visibility = Literal["public", "private"]
SubscriptionPolicy = Literal["open", "invite", "approval"]
PostingPolicy = Literal["members", "anyone", "moderated", "announce"]
NonmemberAction = Literal["hold", "reject", "discard"]
ReplyToMode = Literal["none", "list", "address"]
AiAction = Literal["hold", "accept", "mark", "reject", "discard"]
DmarcMitigation = Literal["munge_from", "wrap", "none"]
MAX_LIST_MESSAGE_SIZE = 100 * 1024 * 1024


class ListSettings(BaseModel):
    """Every list setting with its default (used for creation; updates send any subset)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    visibility: Visibility = "public"
    subscription_policy: SubscriptionPolicy = "open"
    posting_policy: PostingPolicy = "members"
    nonmember_action: NonmemberAction = "hold"
    subject_prefix: str = Field(default="", max_length=100)
    reply_to_mode: ReplyToMode = "none"
    reply_to_address: EmailAddress | Literal[""] = ""
    footer: str = Field(default="", max_length=5000)
    max_message_size: int = Field(default=10 * 1024 * 1024, ge=1024, le=MAX_LIST_MESSAGE_SIZE)
    archive_enabled: bool = True
    archive_public: bool = False
    ai_moderation_enabled: bool = False
    ai_flagged_action: AiAction = "hold"
    ai_caution_action: AiAction = "mark"
    ai_on_error: AiAction = "hold"
    dmarc_mitigation: DmarcMitigation = "munge_from"
    personalize: bool = True
    emergency_hold: bool = False
    language: Literal["en", "zh-CN"] = "en"


class ListCreate(ListSettings):
    domain_id: int = Field(ge=1, le=MAX_ID)
    local_part: str = Field(min_length=1, max_length=64, examples=["dev"])
    owner_ids: list[int] = Field(default_factory=list, max_length=20)


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
    max_message_size: int | None = Field(default=None, ge=1024, le=MAX_LIST_MESSAGE_SIZE)
    archive_enabled: bool | None = None
    archive_public: bool | None = None
    ai_moderation_enabled: bool | None = None
    ai_flagged_action: AiAction | None = None
    ai_caution_action: AiAction | None = None
    ai_on_error: AiAction | None = None
    dmarc_mitigation: DmarcMitigation | None = None
    personalize: bool | None = None
    emergency_hold: bool | None = None
    language: Literal["en", "zh-CN"] | None = None
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
