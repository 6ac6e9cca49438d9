"""Bounces received for list deliveries, and digests compiled per period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin
from oak_maillist.db.types import UtcDateTime, email_column_type, utcnow


class Bounce(IdMixin, Base):
    __tablename__ = "bounces"
    __table_args__ = (Index("ix_bounces_list_received", "list_id", "received_at"),)

    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    inbound_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
    recipient: Mapped[str] = mapped_column(email_column_type())
    # hard or soft
    kind: Mapped[str] = mapped_column(String(10))
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Digest(IdMixin, Base):
    """A compiled digest; the unique key makes a repeated scheduler tick a no-op."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("list_id", "kind", "period_start"),)

    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    # daily or weekly
    kind: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)
    # The list's digest number, counting daily and weekly together (shown in the subject).
    issue: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
