"""Mail domains: outbound relay overrides and DKIM keys."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from oak_maillist.db.base import Base, IdMixin, TimestampMixin


class Domain(IdMixin, TimestampMixin, Base):
    __tablename__ = "domains"

    name: Mapped[str] = mapped_column(String(253), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Relay overrides; empty host means the global smtp.outgoing relay.
    smtp_host: Mapped[str] = mapped_column(String(253), default="")
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_security: Mapped[str] = mapped_column(String(10), default="starttls")
    smtp_username: Mapped[str] = mapped_column(String(320), default="")
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text)
    dkim_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    dkim_selector: Mapped[str] = mapped_column(String(63), default="oak")
    # rsa-sha256 or ed25519-sha256
    dkim_algorithm: Mapped[str] = mapped_column(String(20), default="rsa-sha256")
    dkim_private_key_encrypted: Mapped[str | None] = mapped_column(Text)
    dkim_public_key: Mapped[str | None] = mapped_column(Text)
    # A second, Ed25519 signature beside an RSA main key (RFC 8463 §3), under its own selector.
    dkim_ed25519_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    dkim_ed25519_selector: Mapped[str] = mapped_column(
        String(63), default="oak-ed", server_default="oak-ed"
    )
    dkim_ed25519_private_key_encrypted: Mapped[str | None] = mapped_column(Text)
    dkim_ed25519_public_key: Mapped[str | None] = mapped_column(Text)
