"""Short-lived, single-use challenges: the MFA step after a password, WebAuthn ceremonies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.errors import NotAuthenticatedError
from oak_maillist.models import AuthChallenge
from oak_maillist.services.crypto import new_token, token_hash


class ChallengeInvalidError(NotAuthenticatedError):
    code = "challenge_invalid"
    template = "The sign-in step has expired or is not valid; start again"


async def create(
    session: AsyncSession,
    *,
    kind: str,
    ttl_seconds: int,
    user_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> str:
    """Store a challenge and return the raw token that names it (stored only hashed)."""
    raw = new_token()
    session.add(
        AuthChallenge(
            kind=kind,
            user_id=user_id,
            challenge_hash=token_hash(raw),
            data=data or {},
            expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        )
    )
    await session.flush()
    return raw


async def find(session: AsyncSession, *, kind: str, raw: str) -> AuthChallenge:
    """The open challenge named by `raw`, or ChallengeInvalidError."""
    challenge = (
        await session.execute(
            select(AuthChallenge).where(AuthChallenge.challenge_hash == token_hash(raw))
        )
    ).scalar_one_or_none()
    if (
        challenge is None
        or challenge.kind != kind
        or challenge.used_at is not None
        or challenge.expires_at <= utcnow()
    ):
        raise ChallengeInvalidError
    return challenge


def consume(challenge: AuthChallenge) -> None:
    """Mark a challenge used: it cannot be presented again."""
    challenge.used_at = utcnow()


def count_failure(challenge: AuthChallenge, max_attempts: int) -> None:
    """One more wrong answer; the challenge dies after `max_attempts` of them."""
    challenge.attempts += 1
    if challenge.attempts >= max_attempts:
        challenge.used_at = utcnow()
