"""Credentials and sign-in state: sessions, refresh tokens, backup codes, passkeys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, BigId, IdMixin
from oak_maillist.db.types import (
    JsonText,
    LongBinary,
    UtcDateTime,
    address_key_type,
    utcnow,
)


class UserSession(IdMixin, Base):
    """One signed-in device; access tokens carry its id and stop working when it is revoked."""

    __tablename__ = "user_sessions"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    # How the session was opened: password, totp, backup_code, passkey.
    auth_method: Mapped[str] = mapped_column(String(20), default="password")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(50))


class RefreshToken(IdMixin, Base):
    """An opaque refresh token, kept only as its SHA-256; rotated on every use."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set when the token was exchanged; presenting it again means it was stolen.
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BackupCode(IdMixin, Base):
    __tablename__ = "backup_codes"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Passkey(IdMixin, Base):
    """A WebAuthn credential registered by a user."""

    __tablename__ = "passkeys"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # base64url credential id (at most 1023 bytes raw per WebAuthn L3).
    credential_id: Mapped[str] = mapped_column(String(1400))
    credential_id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[bytes] = mapped_column(LongBinary)
    sign_count: Mapped[int] = mapped_column(BigId, default=0)
    name: Mapped[str] = mapped_column(String(100), default="")
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    transports: Mapped[list[str]] = mapped_column(JsonText, default=list)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuthChallenge(IdMixin, Base):
    """A pending WebAuthn ceremony or MFA step: single use, short-lived."""

    __tablename__ = "auth_challenges"

    kind: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, object]] = mapped_column(JsonText, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class UserInvitation(IdMixin, Base):
    """An invitation to register while registration is invite-only."""

    __tablename__ = "user_invitations"
    __table_args__ = (Index("ix_user_invitations_email", "email_normalized"),)

    email_normalized: Mapped[str] = mapped_column(address_key_type())
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    role: Mapped[str] = mapped_column(String(20), default="user")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
