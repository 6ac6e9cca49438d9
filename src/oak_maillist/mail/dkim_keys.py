"""DKIM key pairs: generation, import, and the DNS records to publish (RFC 6376, RFC 8463)."""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

RSA_BITS = 2048


class Algorithm(enum.StrEnum):
    RSA_SHA256 = "rsa-sha256"
    ED25519_SHA256 = "ed25519-sha256"


class KeyImportError(ValueError):
    """The key given is not a usable DKIM private key."""


@dataclass(frozen=True)
class KeyPair:
    algorithm: Algorithm
    # What dkimpy signs with: PKCS#1 PEM for RSA, the base64 32-byte seed for Ed25519.
    private_key: str
    # The p= value of the DKIM TXT record.
    public_key: str


def generate(algorithm: Algorithm) -> KeyPair:
    """A new key pair: RSA 2048 or Ed25519."""
    if algorithm is Algorithm.ED25519_SHA256:
        return _from_private(ed25519.Ed25519PrivateKey.generate())
    return _from_private(rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS))


def import_pem(pem: str) -> KeyPair:
    """Read an RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) private key in PEM form."""
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyImportError("not an unencrypted PEM private key") from exc
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 1024:
        raise KeyImportError("RSA keys shorter than 1024 bits are refused (RFC 8301)")
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise KeyImportError("only RSA and Ed25519 keys can sign DKIM")
    return _from_private(key)


def _from_private(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> KeyPair:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return KeyPair(
            Algorithm.ED25519_SHA256,
            base64.b64encode(seed).decode(),
            base64.b64encode(public).decode(),
        )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(Algorithm.RSA_SHA256, private_pem, base64.b64encode(public_der).decode())


@dataclass(frozen=True)
class DnsRecord:
    type: str
    name: str
    value: str
    purpose: str


def dkim_record(domain: str, selector: str, algorithm: Algorithm, public_key: str) -> DnsRecord:
    key_type = "ed25519" if algorithm is Algorithm.ED25519_SHA256 else "rsa"
    return DnsRecord(
        "TXT", f"{selector}._domainkey.{domain}", f"v=DKIM1; k={key_type}; p={public_key}", "dkim"
    )


def spf_record(domain: str, relay_host: str) -> DnsRecord:
    """A suggestion: allow the domain's MX and the relay that sends for it, soft-fail the rest."""
    relay = (
        f" a:{relay_host}" if relay_host and relay_host not in ("localhost", "127.0.0.1") else ""
    )
    return DnsRecord("TXT", domain, f"v=spf1 mx{relay} ~all", "spf")


def dmarc_record(domain: str) -> DnsRecord:
    """A suggestion to start with: monitor (p=none) and collect aggregate reports."""
    return DnsRecord(
        "TXT",
        f"_dmarc.{domain}",
        f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}; adkim=r; aspf=r",
        "dmarc",
    )


def txt_chunks(value: str, size: int = 255) -> list[str]:
    """A TXT value split into the 255-octet strings DNS needs (RFC 7208 §3.3)."""
    return [value[i : i + size] for i in range(0, len(value), size)]
