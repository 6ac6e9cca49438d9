"""The activity log: who did what, when, from where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin
from oak_maillist.db.types import JsonText, UtcDateTime, utcnow


class ActivityLog(IdMixin, Base):
    __tablename__ = "activity_log"
    __table_args__ = (
        Index("ix_activity_log_created", "created_at"),
        Index("ix_activity_log_actor", "actor_id", "created_at"),
        Index("ix_activity_log_target", "target_type", "target_id"),
    )

    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    # Dotted action name: auth.login_failed, list.created, subscriber.imported, ...
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(50), default="")
    target_id: Mapped[str] = mapped_column(String(100), default="")
    list_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="SET NULL"), index=True
    )
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, object]] = mapped_column(JsonText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
