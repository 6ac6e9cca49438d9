"""List members and their pending subscription actions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin, TimestampMixin
from oak_maillist.db.types import JsonText, UtcDateTime, address_key_type, email_column_type, utcnow


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the address to confirm
    INVITED = "invited"  # waiting for the invitee to accept
    AWAITING_APPROVAL = "awaiting_approval"  # waiting for an owner
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCING = "bouncing"  # removed by bounce processing
    DISABLED = "disabled"  # suspended by an owner


class DigestMode(enum.StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class DigestFormat(enum.StrEnum):
    MIME = "mime"  # multipart/digest (RFC 2046) with a table of contents
    PLAIN = "plain"  # one text/plain message (RFC 1153)


class Subscriber(IdMixin, TimestampMixin, Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("list_id", "email_normalized"),
        # With the id last, a list's eligible subscribers come in id order (fan-out chunks).
        Index("ix_subscribers_list_status", "list_id", "status", "digest_mode", "id"),
    )

    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(email_column_type())
    email_normalized: Mapped[str] = mapped_column(address_key_type())
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default=SubscriberStatus.PENDING)
    digest_mode: Mapped[str] = mapped_column(String(10), default=DigestMode.NONE)
    digest_format: Mapped[str] = mapped_column(
        String(10), default=DigestFormat.MIME, server_default=DigestFormat.MIME.value
    )
    language: Mapped[str] = mapped_column(String(10), default="en")
    # Where the subscription came from: web, import, owner, email, invite.
    source: Mapped[str] = mapped_column(String(20), default="web")
    bounce_score: Mapped[int] = mapped_column(Integer, default=0)
    last_bounce_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    subscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SubscriptionRequest(IdMixin, Base):
    """A tokenised action sent by mail: confirm, invite, unsubscribe, preferences, approval."""

    __tablename__ = "subscription_requests"

    list_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"), index=True
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    email_normalized: Mapped[str] = mapped_column(address_key_type())
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, object]] = mapped_column(JsonText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
