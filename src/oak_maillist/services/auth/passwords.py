"""Argon2id password hashing with costs from configuration."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from oak_maillist.config import SecuritySettings
from oak_maillist.errors import InvalidInputError

MAX_PASSWORD_LENGTH = 1024  # hashing megabytes of "password" is a denial of service


class PasswordTooShortError(InvalidInputError):
    code = "password_too_short"
    template = "The password must be at least {min_length} characters long"


class PasswordTooLongError(InvalidInputError):
    code = "password_too_long"
    template = "The password must be at most {max_length} characters long"


def hasher(settings: SecuritySettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
    )


def check_policy(password: str, settings: SecuritySettings) -> None:
    """Raise a 422 naming the rule the password breaks."""
    if len(password) < settings.password_min_length:
        raise PasswordTooShortError(min_length=settings.password_min_length)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLongError(max_length=MAX_PASSWORD_LENGTH)


async def hash_password(password: str, settings: SecuritySettings) -> str:
    """Hash off the event loop: Argon2 is deliberately slow."""
    return await asyncio.to_thread(hasher(settings).hash, password)


async def verify_password(password_hash: str, password: str, settings: SecuritySettings) -> bool:
    """Check a password in constant time (argon2 compares digests itself)."""
    try:
        return await asyncio.to_thread(hasher(settings).verify, password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, settings: SecuritySettings) -> bool:
    """True when the stored hash was made with other costs than the configured ones."""
    try:
        return hasher(settings).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
