"""Outbound deliveries: one row per recipient of a post."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin
from oak_maillist.db.types import UtcDateTime, email_column_type, utcnow


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    BOUNCED = "bounced"


class AttemptMixin:
    """Where a message stands with the relay: status, attempts, retry time, lease, last reply."""

    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_code: Mapped[int | None] = mapped_column(Integer)
    last_reply: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Delivery(IdMixin, AttemptMixin, Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        # A post's rows by status in id order: claiming reads only the due ones.
        Index("ix_deliveries_message_status_id", "message_id", "status", "id"),
    )

    list_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"), index=True
    )
    # The archived post; NULL for mail the service sends on its own behalf.
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE")
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str] = mapped_column(email_column_type())
    # post, digest, notice
    kind: Mapped[str] = mapped_column(String(20), default="post")


class PendingFanout(Base):
    """A post whose delivery rows are still being written, chunk by chunk.

    The post's first rows are written in the transaction that accepts it, so sending starts at
    once; the rest follow in later transactions, in subscriber id order, up to the highest id
    the list had when the post was accepted. The row goes when the last chunk is written.
    """

    __tablename__ = "pending_fanouts"

    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"), index=True
    )
    # Rows exist for every eligible subscriber with an id up to this one.
    done_through: Mapped[int] = mapped_column(BigInteger)
    # The highest subscriber id when the post was accepted: later subscribers do not get it.
    last_subscriber_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OutboundMessage(IdMixin, AttemptMixin, Base):
    """Mail the service composes itself (confirmations, notices, digests), kept until sent."""

    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_due", "status", "next_attempt_at"),)

    list_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"), index=True
    )
    # confirm, welcome, notice, digest, bounce_warning, ...
    kind: Mapped[str] = mapped_column(String(30))
    sender: Mapped[str] = mapped_column(email_column_type())
    recipient: Mapped[str] = mapped_column(email_column_type())
    raw: Mapped[str] = mapped_column(Text)
