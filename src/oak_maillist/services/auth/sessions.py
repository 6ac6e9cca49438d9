"""Signed-in sessions: opening, rotating refresh tokens with theft detection, revoking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import NotAuthenticatedError, NotFoundError
from oak_maillist.models import RefreshToken, User, UserSession
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import tokens
from oak_maillist.services.crypto import new_token, token_hash

# How often last_used_at is written for a session in use (not on every request).
TOUCH_INTERVAL = timedelta(seconds=60)


class RefreshTokenInvalidError(NotAuthenticatedError):
    code = "refresh_token_invalid"
    template = "The refresh token is not valid or has expired"


class RefreshTokenReusedError(NotAuthenticatedError):
    code = "refresh_token_reused"
    template = "This refresh token was already used; the session has been revoked"
    persist = True  # the revocation must be committed although the request fails


class SessionRevokedError(NotAuthenticatedError):
    code = "session_revoked"
    template = "The session has ended; sign in again"


class UserInactiveError(NotAuthenticatedError):
    code = "user_inactive"
    template = "The account is deactivated"


class SessionNotFoundError(NotFoundError):
    code = "session_not_found"
    template = "Session {session_id} does not exist"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: int
    user: User


async def open_session(
    session: AsyncSession,
    user: User,
    settings: SecuritySettings,
    *,
    origin: Origin,
    method: str,
) -> TokenPair:
    """Start a session for a user who has fully authenticated."""
    now = utcnow()
    user_session = UserSession(
        user_id=user.id,
        user_agent=origin.user_agent[:500],
        ip_address=origin.ip[:45],
        auth_method=method,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_expiration_days),
    )
    session.add(user_session)
    await session.flush()
    user.last_login_at = now
    await activity.record(
        session,
        "auth.login",
        actor_id=user.id,
        origin=origin,
        target_type="session",
        target_id=user_session.id,
        method=method,
    )
    return await _issue(session, user, user_session, settings)


async def _issue(
    session: AsyncSession, user: User, user_session: UserSession, settings: SecuritySettings
) -> TokenPair:
    raw = new_token()
    session.add(
        RefreshToken(
            session_id=user_session.id,
            token_hash=token_hash(raw),
            expires_at=user_session.expires_at,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=tokens.issue_access_token(user.id, user_session.id, settings),
        refresh_token=raw,
        expires_in=settings.jwt_expiration_seconds,
        session_id=user_session.id,
        user=user,
    )


async def refresh(
    session: AsyncSession, raw_token: str, settings: SecuritySettings, *, origin: Origin
) -> TokenPair:
    """Exchange a refresh token for a new pair; a token presented twice revokes its session."""
    now = utcnow()
    stored = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash(raw_token))
        )
    ).scalar_one_or_none()
    if stored is None:
        raise RefreshTokenInvalidError
    user_session = await session.get(UserSession, stored.session_id)
    if user_session is None:
        raise RefreshTokenInvalidError
    # Compare-and-set, so two concurrent uses cannot both succeed.
    rotated = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(rotated, "rowcount", 0) != 1:
        await _revoke(session, user_session, "token_reuse", now)
        await activity.record(
            session,
            "auth.refresh_token_reused",
            actor_id=user_session.user_id,
            origin=origin,
            target_type="session",
            target_id=user_session.id,
        )
        raise RefreshTokenReusedError
    if not _is_open(user_session, now) or stored.expires_at <= now:
        raise RefreshTokenInvalidError
    user = await session.get(User, user_session.user_id)
    if user is None or not user.is_active:
        raise RefreshTokenInvalidError
    user_session.last_used_at = now
    user_session.ip_address = origin.ip[:45] or user_session.ip_address
    return await _issue(session, user, user_session, settings)


def _is_open(user_session: UserSession, now: datetime) -> bool:
    return user_session.revoked_at is None and user_session.expires_at > now


async def _revoke(
    session: AsyncSession, user_session: UserSession, reason: str, now: datetime
) -> None:
    if user_session.revoked_at is None:
        user_session.revoked_at = now
        user_session.revoked_reason = reason
    await session.flush()


async def authenticate(
    session: AsyncSession, token: str, settings: SecuritySettings
) -> tuple[User, UserSession]:
    """The user and session behind an access token, checked against the database each time,
    so a revoked session or a deactivated user stops working on the next request."""
    claims = tokens.decode_access_token(token, settings)
    user_session = await session.get(UserSession, claims.session_id)
    now = utcnow()
    if (
        user_session is None
        or user_session.user_id != claims.user_id
        or not _is_open(user_session, now)
    ):
        raise SessionRevokedError
    user = await session.get(User, claims.user_id)
    if user is None:
        raise SessionRevokedError
    if not user.is_active:
        raise UserInactiveError
    if now - user_session.last_used_at > TOUCH_INTERVAL:
        user_session.last_used_at = now
    return user, user_session


async def list_sessions(session: AsyncSession, user_id: int) -> list[UserSession]:
    """Open sessions of a user, most recently used first."""
    now = utcnow()
    rows = await session.execute(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
        .order_by(UserSession.last_used_at.desc())
    )
    return list(rows.scalars())


async def revoke_session(
    session: AsyncSession, user_id: int, session_id: int, *, origin: Origin, reason: str = "user"
) -> None:
    """End one of the user's own sessions (another user's id is reported as not found)."""
    user_session = await session.get(UserSession, session_id)
    if (
        user_session is None
        or user_session.user_id != user_id
        or user_session.revoked_at is not None
    ):
        raise SessionNotFoundError(session_id=session_id)
    await _revoke(session, user_session, reason, utcnow())
    await activity.record(
        session,
        "auth.session_revoked",
        actor_id=user_id,
        origin=origin,
        target_type="session",
        target_id=session_id,
        reason=reason,
    )


async def revoke_all(
    session: AsyncSession,
    user_id: int,
    *,
    except_session_id: int | None,
    origin: Origin,
    reason: str,
) -> int:
    """End every open session of a user except one; returns how many ended."""
    query = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if except_session_id is not None:
        query = query.where(UserSession.id != except_session_id)
    result = await session.execute(
        query.values(revoked_at=utcnow(), revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    await activity.record(
        session,
        "auth.sessions_revoked",
        actor_id=user_id,
        origin=origin,
        target_type="user",
        target_id=user_id,
        count=count,
        reason=reason,
    )
    return count
