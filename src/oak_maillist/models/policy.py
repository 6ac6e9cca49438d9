"""Sender policies: whitelist and blacklist rules, per list or global."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin
from oak_maillist.db.types import UtcDateTime, utcnow


class PolicyKind(enum.StrEnum):
    WHITELIST = "whitelist"
    BLACKLIST = "blacklist"


class PatternType(enum.StrEnum):
    EXACT = "exact"  # alice@example.com
    DOMAIN = "domain"  # @example.com (subdomains when include_subdomains)
    GLOB = "glob"  # *@*.example.com


class SenderPolicy(IdMixin, Base):
    __tablename__ = "sender_policies"
    __table_args__ = (Index("ix_sender_policies_list_position", "list_id", "position"),)

    # NULL: a global rule that applies to every list.
    list_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    pattern_type: Mapped[str] = mapped_column(String(20))
    pattern: Mapped[str] = mapped_column(String(320))
    include_subdomains: Mapped[bool] = mapped_column(Boolean, default=False)
    # For blacklist rules: discard (silently) or reject (with a notice).
    action: Mapped[str] = mapped_column(String(20), default="discard")
    position: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
