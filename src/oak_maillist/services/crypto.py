"""Secrets at rest (TOTP seeds, DKIM keys, relay passwords) and token hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from oak_maillist.config import SecuritySettings
from oak_maillist.errors import AppError


class DecryptionError(AppError):
    """A stored secret cannot be decrypted (the jwt_secret changed, or the value is corrupt).

    A server-side fault, answered with its own code rather than a bare 500."""

    code = "stored_secret_unreadable"
    status = 500
    template = (
        "A stored secret ({purpose}) cannot be read: security.jwt_secret changed since it was "
        "stored. Restore the previous secret, or an administrator must set it up again."
    )


def derive_key(settings: SecuritySettings, purpose: str) -> bytes:
    """A 256-bit key per purpose, derived with HKDF from security.jwt_secret, so one secret
    in the configuration never serves two purposes and every key has full length."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"oak-maillist/keys/v1", info=purpose.encode()
    ).derive(settings.jwt_secret.get_secret_value().encode())


def _fernet(settings: SecuritySettings, purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(settings, f"at-rest/{purpose}")))


def encrypt(plaintext: str, settings: SecuritySettings, *, purpose: str) -> str:
    return _fernet(settings, purpose).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str, settings: SecuritySettings, *, purpose: str) -> str:
    try:
        return _fernet(settings, purpose).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError(purpose=purpose) from None


def new_token(nbytes: int = 32) -> str:
    """A random URL-safe token for links and refresh tokens."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """What we store instead of a token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())
