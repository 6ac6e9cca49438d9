"""Mailing lists and the people who own or moderate them."""

from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin, TimestampMixin
from oak_maillist.db.types import email_column_type


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class SubscriptionPolicy(enum.StrEnum):
    OPEN = "open"  # anyone, with confirmation by mail
    INVITE = "invite"  # owners invite, invitee accepts
    APPROVAL = "approval"  # requests wait for an owner


class PostingPolicy(enum.StrEnum):
    MEMBERS = "members"
    ANYONE = "anyone"
    MODERATED = "moderated"
    ANNOUNCE = "announce"


class ListRoleName(enum.StrEnum):
    OWNER = "owner"
    MODERATOR = "moderator"


class MailingList(IdMixin, TimestampMixin, Base):
    __tablename__ = "mailing_lists"
    __table_args__ = (UniqueConstraint("domain_id", "local_part"),)

    domain_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("domains.id", ondelete="RESTRICT"), index=True
    )
    local_part: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(20), default=Visibility.PUBLIC)
    subscription_policy: Mapped[str] = mapped_column(String(20), default=SubscriptionPolicy.OPEN)
    posting_policy: Mapped[str] = mapped_column(String(20), default=PostingPolicy.MEMBERS)
    # What happens to posts from non-members under the members policy: hold, reject, discard.
    nonmember_action: Mapped[str] = mapped_column(String(20), default="hold")
    subject_prefix: Mapped[str] = mapped_column(String(100), default="")
    # none, list, address
    reply_to_mode: Mapped[str] = mapped_column(String(20), default="none")
    reply_to_address: Mapped[str] = mapped_column(email_column_type(), default="")
    footer: Mapped[str] = mapped_column(Text, default="")
    max_message_size: Mapped[int] = mapped_column(BigInteger, default=10 * 1024 * 1024)
    archive_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    archive_public: Mapped[bool] = mapped_column(Boolean, default=False)
    ai_moderation_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per-level AI actions: hold, accept, mark, reject, discard.
    ai_flagged_action: Mapped[str] = mapped_column(String(20), default="hold")
    ai_caution_action: Mapped[str] = mapped_column(String(20), default="mark")
    ai_on_error: Mapped[str] = mapped_column(String(20), default="hold")
    # DMARC mitigation for posters whose domain publishes reject/quarantine: munge_from, wrap, none.
    dmarc_mitigation: Mapped[str] = mapped_column(String(20), default="munge_from")
    # Personalised delivery (per-recipient VERP and unsubscribe link) or bulk.
    personalize: Mapped[bool] = mapped_column(Boolean, default=True)
    emergency_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(10), default="en")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class ListRole(IdMixin, Base):
    """A user's role on one list: owner or moderator."""

    __tablename__ = "list_roles"
    __table_args__ = (UniqueConstraint("list_id", "user_id", "role"),)

    list_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
