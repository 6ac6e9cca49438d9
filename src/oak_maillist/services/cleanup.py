"""Deleting state whose lifetime is over."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.models import AuthChallenge, RefreshToken, SubscriptionRequest, UserSession

# Revoked and expired sessions stay visible this long (for the user's own session history).
SESSION_HISTORY = timedelta(days=30)


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> dict[str, int]:
    """Delete what can no longer be used; returns the number of rows removed per kind."""
    now = now or utcnow()
    statements = {
        "auth_challenges": delete(AuthChallenge).where(AuthChallenge.expires_at < now),
        "refresh_tokens": delete(RefreshToken).where(RefreshToken.expires_at < now),
        "subscription_requests": delete(SubscriptionRequest).where(
            SubscriptionRequest.expires_at < now - SESSION_HISTORY
        ),
        "user_sessions": delete(UserSession).where(
            or_(
                UserSession.expires_at < now - SESSION_HISTORY,
                UserSession.revoked_at < now - SESSION_HISTORY,
            )
        ),
    }
    counts = {}
    for kind, statement in statements.items():
        result = await session.execute(statement.execution_options(synchronize_session=False))
        counts[kind] = int(getattr(result, "rowcount", 0) or 0)
    return counts
