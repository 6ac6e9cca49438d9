"""Runtime settings kept in the database and edited by administrators."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.models import PostingPolicy, SubscriptionPolicy, SystemSetting, Visibility

RegistrationMode = Literal["open", "invite", "closed"]
NonmemberAction = Literal["hold", "reject", "discard"]
MIN_LIST_MESSAGE_SIZE = 1024
MAX_LIST_MESSAGE_SIZE = 100 * 1024 * 1024


class ListDefaults(BaseModel):
    """What a new list gets for each of these settings when its creator does not say."""

    visibility: Visibility = Visibility.PUBLIC
    subscription_policy: SubscriptionPolicy = SubscriptionPolicy.OPEN
    posting_policy: PostingPolicy = PostingPolicy.MEMBERS
    nonmember_action: NonmemberAction = "hold"
    max_message_size: int = Field(
        default=10 * 1024 * 1024, ge=MIN_LIST_MESSAGE_SIZE, le=MAX_LIST_MESSAGE_SIZE
    )
    archive_enabled: bool = True
    archive_public: bool = False
    language: Literal["en", "zh-CN"] = "en"
    ai_moderation_enabled: bool = False


class AiOverrides(BaseModel):
    """Run-time changes an administrator made to [ai_moderation]; None keeps the file's value.

    Secrets are stored encrypted (services.crypto) and never shown again.
    """

    enabled: bool | None = None
    provider: Literal["aliyun", "openai", "rspamd", "spamassassin"] | None = None
    endpoint: str | None = Field(default=None, max_length=500)
    region: str | None = Field(default=None, max_length=100)
    service: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    openai_mode: Literal["moderations", "chat"] | None = None
    learn_endpoint: str | None = Field(default=None, max_length=500)
    high_risk_threshold: int | None = Field(default=None, ge=0, le=100)
    medium_risk_threshold: int | None = Field(default=None, ge=0, le=100)
    request_timeout_seconds: int | None = Field(default=None, ge=1, le=600)
    max_text_length: int | None = Field(default=None, ge=100, le=100000)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    circuit_failure_threshold: int | None = Field(default=None, ge=1, le=1000)
    circuit_reset_seconds: int | None = Field(default=None, ge=1, le=86400)
    # Encrypted values (crypto.encrypt, purpose "ai_moderation").
    access_key_id: str | None = None
    access_key_secret: str | None = None
    api_key: str | None = None


class SystemSettings(BaseModel):
    """Every runtime setting with its default; unknown keys in the database are ignored."""

    registration_mode: RegistrationMode = "open"
    site_name: str = Field(default="Oak Maillist", min_length=1, max_length=100)
    default_language: Literal["en", "zh-CN"] = "en"
    list_defaults: ListDefaults = Field(default_factory=ListDefaults)
    ai_moderation: AiOverrides = Field(default_factory=AiOverrides)


async def load(session: AsyncSession) -> SystemSettings:
    rows = (await session.execute(select(SystemSetting))).scalars().all()
    stored = {row.key: row.value for row in rows if row.key in SystemSettings.model_fields}
    return SystemSettings.model_validate(stored)


async def update(
    session: AsyncSession, changes: dict[str, Any], *, actor_id: int | None
) -> SystemSettings:
    """Validate and store changed keys; returns the settings after the change.

    `list_defaults` may be given in part: the keys it holds replace the stored ones.
    """
    current = (await load(session)).model_dump(mode="json")
    if isinstance(changes.get("list_defaults"), dict):
        changes = changes | {"list_defaults": current["list_defaults"] | changes["list_defaults"]}
    valid = SystemSettings.model_validate(current | changes)
    stored = valid.model_dump(mode="json")
    for key in changes:
        row = await session.get(SystemSetting, key)
        if row is None:
            session.add(SystemSetting(key=key, value=stored[key], updated_by_id=actor_id))
        else:
            row.value = stored[key]
            row.updated_by_id = actor_id
            row.updated_at = utcnow()
    await session.flush()
    return valid
