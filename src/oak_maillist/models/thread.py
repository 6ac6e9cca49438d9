"""Conversation threads of a list's archive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin
from oak_maillist.db.types import UtcDateTime, utcnow


class Thread(IdMixin, Base):
    __tablename__ = "threads"
    __table_args__ = (
        Index("ix_threads_list_activity", "list_id", "last_activity_at"),
        Index("ix_threads_list_root", "list_id", "root_message_id"),
        Index("ix_threads_list_subject_key", "list_id", "subject_key"),
    )

    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    # Message-ID of the root (the earliest known ancestor, possibly never received).
    root_message_id: Mapped[str] = mapped_column(String(255), default="")
    subject: Mapped[str] = mapped_column(String(998), default="")
    # The subject without reply markers and list tags, casefolded: the fallback join key for
    # replies that carry no In-Reply-To or References.
    subject_key: Mapped[str] = mapped_column(String(255), default="")
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
