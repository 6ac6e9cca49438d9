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


AiProvider = Literal["aliyun", "openai", "rspamd", "spamassassin"]
NoControl = Field(default=None, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")


class AiSettingsOut(BaseModel):
    """The effective [ai_moderation] configuration; secrets only say whether they are set."""

    enabled: bool
    provider: AiProvider
    endpoint: str
    region: str
    service: str
    model: str
    openai_mode: Literal["moderations", "chat"]
    learn_endpoint: str
    high_risk_threshold: int
    medium_risk_threshold: int
    request_timeout_seconds: int
    max_text_length: int
    max_retries: int
    circuit_failure_threshold: int
    circuit_reset_seconds: int
    access_key_id_set: bool
    access_key_secret_set: bool
    api_key_set: bool
    overridden: list[str] = Field(description="Settings changed here rather than in the file")
    circuit: str = Field(description="This process's circuit breaker: closed, open, half_open")


class AiSettingsUpdate(BaseModel):
    """Any subset; secrets are write-only, and "" falls back to the configuration file."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    provider: AiProvider | None = None
    endpoint: str | None = Field(default=None, min_length=1, max_length=500)
    region: str | None = Field(default=None, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
    service: str | None = Field(default=None, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
    model: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
    openai_mode: Literal["moderations", "chat"] | None = None
    learn_endpoint: str | None = NoControl
    high_risk_threshold: int | None = Field(default=None, ge=0, le=100)
    medium_risk_threshold: int | None = Field(default=None, ge=0, le=100)
    request_timeout_seconds: int | None = Field(default=None, ge=1, le=600)
    max_text_length: int | None = Field(default=None, ge=100, le=100000)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    circuit_failure_threshold: int | None = Field(default=None, ge=1, le=1000)
    circuit_reset_seconds: int | None = Field(default=None, ge=1, le=86400)
    access_key_id: str | None = NoControl
    access_key_secret: str | None = NoControl
    api_key: str | None = NoControl
