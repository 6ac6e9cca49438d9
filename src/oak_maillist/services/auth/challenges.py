"""Short-lived, single-use challenges: the MFA step after a password, WebAuthn ceremonies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

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


async def consume(session: AsyncSession, challenge: AuthChallenge) -> None:
    """Spend a challenge; of two concurrent requests presenting it, only one may succeed."""
    now = utcnow()
    spent = await session.execute(
        update(AuthChallenge)
        .where(AuthChallenge.id == challenge.id, AuthChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1:
        raise ChallengeInvalidError
    set_committed_value(challenge, "used_at", now)


async def count_failure(session: AsyncSession, challenge: AuthChallenge, max_attempts: int) -> None:
    """One more wrong answer, counted in the database (concurrent failures all count); the
    challenge dies after `max_attempts` of them."""
    await session.execute(
        update(AuthChallenge)
        .where(AuthChallenge.id == challenge.id)
        .values(attempts=AuthChallenge.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    attempts = (
        await session.execute(
            select(AuthChallenge.attempts).where(AuthChallenge.id == challenge.id)
        )
    ).scalar_one()
    set_committed_value(challenge, "attempts", attempts)
    if attempts >= max_attempts:
        await session.execute(
            update(AuthChallenge)
            .where(AuthChallenge.id == challenge.id, AuthChallenge.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
