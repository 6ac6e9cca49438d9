"""The moderation queue as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class AiVerdictOut(BaseModel):
    id: int
    provider: str
    score: int | None = Field(description="0-100; null when the provider failed")
    level: str = Field(description="none, caution, flagged, or error (the provider failed)")
    labels: list[str]
    risk_words: list[str]
    error: str | None
    latency_ms: int
    created_at: datetime


class HeldOut(BaseModel):
    id: int
    list_id: int
    sender_email: str
    subject: str
    reason: str = Field(description="The deciding reason's code: nonmember, moderated, too_big…")
    reasons: list[str]
    status: str
    created_at: datetime
    expires_at: datetime | None
    decided_by_id: int | None
    decided_at: datetime | None
    decision_note: str
    ai: AiVerdictOut | None


class AttachmentSummary(BaseModel):
    filename: str
    content_type: str
    size: int


class HeldDetail(HeldOut):
    """A held post with what a moderator needs to judge it (HTML is sanitised)."""

    from_name: str
    to: list[str]
    date: datetime | None
    message_id: str
    size: int
    text: str
    html: str | None
    attachments: list[AttachmentSummary]
    defects: list[str]


class ApproveIn(BaseModel):
    note: str = Field(default="", max_length=2000)
    whitelist: bool = Field(default=False, description="Also let this sender post unmoderated")


class RejectIn(BaseModel):
    note: str = Field(default="", max_length=2000, description="Told to the poster")
    blacklist: bool = Field(default=False, description="Also discard this sender's future posts")
    notify: bool = Field(default=True, description="Send the poster a rejection notice")


class DiscardIn(BaseModel):
    note: str = Field(default="", max_length=2000)
    blacklist: bool = False


class DecisionOut(BaseModel):
    held: HeldOut
    outcome: str = Field(description="What the rest of the chain did after approval, or the status")
    message_id: int | None = Field(default=None, description="The archived post, when accepted")


class BulkIn(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=100)
    action: Literal["approve", "reject", "discard"]
    note: str = Field(default="", max_length=2000)


class BulkItemOut(BaseModel):
    id: int
    ok: bool
    outcome: str = ""
    error: str = ""


class FeedbackIn(BaseModel):
    kind: Literal["false_positive", "false_negative"] = Field(
        description="false_positive: the AI called a fine post risky; false_negative: it missed"
    )
    note: str = Field(default="", max_length=2000)
    whitelist: bool = Field(default=False, description="Also let this sender skip moderation")


class FeedbackOut(BaseModel):
    id: int
    result_id: int
    kind: str
    note: str
    sent_to_provider: bool = Field(description="Whether the provider has learned it yet")
    created_at: datetime
