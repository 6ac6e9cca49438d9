"""Domains as the API shows them; private keys and relay passwords are never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from oak_maillist.mail.dkim_keys import Algorithm

SmtpSecurity = Literal["none", "starttls", "tls"]


class DomainCreate(BaseModel):
    name: str = Field(min_length=3, max_length=253, examples=["lists.example.org"])
    description: str = Field(default="", max_length=500)
    smtp_host: str = Field(default="", max_length=253, description="Relay override; empty: global")
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: SmtpSecurity = "starttls"
    smtp_username: str = Field(default="", max_length=320)
    smtp_password: str = Field(default="", max_length=500)
    dkim_selector: str = Field(default="oak", min_length=1, max_length=63)


class DomainUpdate(BaseModel):
    description: str | None = Field(default=None, max_length=500)
    is_active: bool | None = None
    smtp_host: str | None = Field(default=None, max_length=253)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: SmtpSecurity | None = None
    smtp_username: str | None = Field(default=None, max_length=320)
    smtp_password: str | None = Field(default=None, max_length=500, description='"" clears it')
    dkim_enabled: bool | None = None
    dkim_selector: str | None = Field(default=None, min_length=1, max_length=63)
    dkim_ed25519_enabled: bool | None = Field(
        default=None, description="The Ed25519 signature beside the main key; needs its key"
    )
    dkim_ed25519_selector: str | None = Field(default=None, min_length=1, max_length=63)


class DkimKeyIn(BaseModel):
    """Generate a new pair (`algorithm`) or import a PEM private key (`private_key_pem`)."""

    algorithm: Algorithm = Algorithm.RSA_SHA256
    private_key_pem: str | None = Field(default=None, max_length=20_000)
    selector: str | None = Field(default=None, min_length=1, max_length=63)


class DkimEd25519KeyIn(BaseModel):
    """Generate the Ed25519 key that signs beside the main one, or import it (PKCS#8 PEM)."""

    private_key_pem: str | None = Field(default=None, max_length=20_000)
    selector: str | None = Field(default=None, min_length=1, max_length=63)


class DnsRecordOut(BaseModel):
    type: str
    name: str
    value: str
    purpose: Literal["dkim", "spf", "dmarc"]


class DomainOut(BaseModel):
    id: int
    name: str
    description: str
    is_active: bool
    smtp_host: str
    smtp_port: int | None
    smtp_security: str
    smtp_username: str
    smtp_password_set: bool
    dkim_enabled: bool
    dkim_selector: str
    dkim_algorithm: str
    dkim_public_key: str | None
    dkim_ed25519_enabled: bool
    dkim_ed25519_selector: str
    dkim_ed25519_public_key: str | None
    list_count: int
    dns_records: list[DnsRecordOut]
    created_at: datetime
    updated_at: datetime
