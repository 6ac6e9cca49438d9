"""Mail: raw inbound messages as received, archived posts and their attachments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oak_maillist.db.base import Base, BigId, IdMixin

if TYPE_CHECKING:
    from oak_maillist.models.thread import Thread
from oak_maillist.db.types import (
    JsonText,
    LongBinary,
    LongText,
    UtcDateTime,
    email_column_type,
    utcnow,
)


class InboundStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, 250 sent, not yet processed
    PROCESSING = "processing"  # leased by a worker
    DONE = "done"
    FAILED = "failed"  # parked after the last attempt; an admin can replay it


class InboundMessage(IdMixin, Base):
    """Exactly what SMTP accepted, committed before the 250 reply.

    Rows are kept: the raw bytes of an archived post are its inbound row's (`Message.inbound_id`;
    see `archive.raw_message`). Never purge rows that archived posts refer to.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_status_lease", "status", "lease_until"),)

    envelope_from: Mapped[str] = mapped_column(email_column_type(), default="")
    recipients: Mapped[list[str]] = mapped_column(JsonText, default=list)
    raw: Mapped[bytes] = mapped_column(LongBinary)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    peer: Mapped[str] = mapped_column(String(100), default="")
    helo: Mapped[str] = mapped_column(String(255), default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=InboundStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The outcome of processing: accept, hold, reject, discard, command, bounce; with reasons.
    outcome: Mapped[str | None] = mapped_column(String(20))
    reasons: Mapped[list[str]] = mapped_column(JsonText, default=list)
    error: Mapped[str | None] = mapped_column(Text)


class Message(IdMixin, Base):
    """A post in a list's archive (accepted, or held and later approved)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_list_received", "list_id", "received_at"),
        Index("ix_messages_list_msgid", "list_id", "message_id_hash"),
        Index("ix_messages_thread", "thread_id", "thread_order"),
        Index("ix_messages_list_parent_ref", "list_id", "parent_ref_hash"),
    )

    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    inbound_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("inbound_messages.id", ondelete="SET NULL"), index=True
    )
    thread_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("threads.id", ondelete="SET NULL")
    )
    parent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="SET NULL")
    )
    # SHA-256 of the Message-ID this post replies to, kept while that parent is missing so
    # that the parent adopts it when it arrives (mail often arrives out of order).
    parent_ref_hash: Mapped[str | None] = mapped_column(String(64))
    thread_order: Mapped[int] = mapped_column(Integer, default=0)
    thread_depth: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str] = mapped_column(String(998), default="")
    # SHA-256 of the Message-ID: a fixed-width key for lookups and duplicate detection.
    message_id_hash: Mapped[str] = mapped_column(String(64))
    in_reply_to: Mapped[str] = mapped_column(String(998), default="")
    reference_ids: Mapped[list[str]] = mapped_column(JsonText, default=list)
    subject: Mapped[str] = mapped_column(String(998), default="")
    sender_email: Mapped[str] = mapped_column(email_column_type(), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    text_body: Mapped[str] = mapped_column(LongText, default="")
    html_body: Mapped[str | None] = mapped_column(LongText)
    # Raw RFC 822 file under archive.storage_path, relative; empty when the bytes are the
    # inbound row's (every post archived from an inbound row).
    raw_path: Mapped[str] = mapped_column(String(500), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    # Parse problems met while reading the message (kept, never fatal).
    defects: Mapped[list[str]] = mapped_column(JsonText, default=list)
    # AI verdict mark for messages accepted with a caution level.
    ai_level: Mapped[str | None] = mapped_column(String(20))
    # Set on a new post with a thread that may not be flushed yet: one flush then inserts a
    # batch's threads and posts together. Never loaded (thread_id is what code reads).
    thread: Mapped[Thread | None] = relationship(lazy="raise")


class Attachment(IdMixin, Base):
    __tablename__ = "attachments"

    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    content_id: Mapped[str] = mapped_column(String(255), default="")
    is_inline: Mapped[bool] = mapped_column(Boolean, default=False)
    # File under archive.storage_path; empty when larger than max_attachment_size_mb.
    storage_path: Mapped[str] = mapped_column(String(500), default="")
    stored: Mapped[bool] = mapped_column(Boolean, default=True)
    part_index: Mapped[int] = mapped_column(Integer, default=0)
