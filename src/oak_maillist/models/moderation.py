"""The moderation queue, AI verdicts and moderators' feedback on them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin
from oak_maillist.db.types import JsonText, UtcDateTime, email_column_type, utcnow


class HeldStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISCARDED = "discarded"
    EXPIRED = "expired"


class HeldMessage(IdMixin, Base):
    """A post waiting for a moderator, with the reasons the posting chain gave."""

    __tablename__ = "held_messages"
    __table_args__ = (Index("ix_held_messages_list_status", "list_id", "status", "created_at"),)

    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    inbound_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("inbound_messages.id", ondelete="CASCADE"), index=True
    )
    sender_email: Mapped[str] = mapped_column(email_column_type(), default="")
    subject: Mapped[str] = mapped_column(String(998), default="")
    # The first reason's code (nonmember, moderated, size, ai_flagged, ...) for filtering.
    reason: Mapped[str] = mapped_column(String(50))
    reasons: Mapped[list[str]] = mapped_column(JsonText, default=list)
    # The posting-chain rule that held the post: approval resumes the chain after it.
    rule: Mapped[str] = mapped_column(String(30), default="")
    status: Mapped[str] = mapped_column(String(20), default=HeldStatus.PENDING)
    ai_result_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ai_moderation_results.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class AiModerationResult(IdMixin, Base):
    """One provider verdict on one inbound message."""

    __tablename__ = "ai_moderation_results"
    __table_args__ = (Index("ix_ai_results_list_created", "list_id", "created_at"),)

    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    inbound_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("inbound_messages.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(30))
    score: Mapped[int | None] = mapped_column(Integer)
    # none, caution, flagged, or error when the provider failed.
    level: Mapped[str] = mapped_column(String(20))
    labels: Mapped[list[str]] = mapped_column(JsonText, default=list)
    risk_words: Mapped[list[str]] = mapped_column(JsonText, default=list)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    raw_response: Mapped[dict[str, object] | None] = mapped_column(JsonText)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AiFeedback(IdMixin, Base):
    """A moderator's judgement that a verdict was wrong."""

    __tablename__ = "ai_feedback"

    result_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("ai_moderation_results.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    # false_positive or false_negative
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    sent_to_provider: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
