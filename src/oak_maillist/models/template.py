"""Email templates: global defaults and per-list overrides, per language."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin, TimestampMixin


class EmailTemplate(IdMixin, TimestampMixin, Base):
    __tablename__ = "email_templates"
    __table_args__ = (Index("ix_email_templates_lookup", "name", "language", "list_id"),)

    # NULL: the site-wide override of the built-in default.
    list_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE")
    )
    # confirm, welcome, unsubscribe, invite, moderation_notice, poster_held, poster_rejected,
    # bounce_warning, digest, footer
    name: Mapped[str] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
