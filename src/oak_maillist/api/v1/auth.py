"""Sign-in: register, login, refresh, logout, the current user and their sessions."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import func, select

from oak_maillist.api.deps import (
    CurrentUser,
    IdPath,
    LimiterDep,
    OriginDep,
    SessionDep,
    SettingsDep,
)
from oak_maillist.api.v1.schemas.auth import (
    LoginIn,
    MeOut,
    MfaRequiredOut,
    RefreshIn,
    RegisterIn,
    RevokedOut,
    SessionOut,
    TokenOut,
    UserOut,
)
from oak_maillist.models import ListRole, ListRoleName
from oak_maillist.services import registration
from oak_maillist.services.auth import login, sessions
from oak_maillist.services.auth.sessions import TokenPair

router = APIRouter(prefix="/auth", tags=["auth"])


def token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=UserOut.model_validate(pair.user),
    )


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(
    body: RegisterIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> TokenOut:
    """Create an account (when registration is open, or with an invitation) and sign in."""
    await limiter.hit("register_ip", origin.ip)
    pair = await registration.register(
        session,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        language=body.language,
        invitation_token=body.invitation_token,
        settings=settings.security,
        origin=origin,
    )
    return token_out(pair)


@router.post("/login")
async def login_with_password(
    body: LoginIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> TokenOut | MfaRequiredOut:
    """Tokens, or an MFA step (`mfa_required`) when the account has a second factor."""
    await limiter.hit("login_ip", origin.ip)
    await limiter.hit("login_account", body.email.strip().lower())
    result = await login.password_login(
        session, email=body.email, password=body.password, settings=settings.security, origin=origin
    )
    if isinstance(result, login.MfaRequired):
        return MfaRequiredOut(
            mfa_token=result.mfa_token, methods=result.methods, expires_in=result.expires_in
        )
    return token_out(result)


@router.post("/refresh")
async def refresh(
    body: RefreshIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> TokenOut:
    """A new token pair; the refresh token presented is spent."""
    await limiter.hit("refresh_ip", origin.ip)
    return token_out(
        await sessions.refresh(session, body.refresh_token, settings.security, origin=origin)
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentUser, session: SessionDep, origin: OriginDep) -> None:
    """End the current session; its access and refresh tokens stop working."""
    await sessions.revoke_session(
        session, principal.user.id, principal.session.id, origin=origin, reason="logout"
    )


@router.get("/me")
async def me(principal: CurrentUser, session: SessionDep) -> MeOut:
    rows = await session.execute(
        select(ListRole.role, func.count(ListRole.id))
        .where(ListRole.user_id == principal.user.id)
        .group_by(ListRole.role)
    )
    roles = {str(role): int(count) for role, count in rows.all()}
    return MeOut.model_validate(
        {
            **UserOut.model_validate(principal.user).model_dump(),
            "owned_lists": roles.get(ListRoleName.OWNER, 0),
            "moderated_lists": roles.get(ListRoleName.MODERATOR, 0),
        }
    )


@router.get("/sessions")
async def list_sessions(principal: CurrentUser, session: SessionDep) -> list[SessionOut]:
    """The caller's open sessions; `current` marks the one this token belongs to."""
    rows = await sessions.list_sessions(session, principal.user.id)
    return [
        SessionOut(
            id=row.id,
            user_agent=row.user_agent,
            ip_address=row.ip_address,
            auth_method=row.auth_method,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            current=row.id == principal.session.id,
        )
        for row in rows
    ]


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(
    session_id: IdPath, principal: CurrentUser, session: SessionDep, origin: OriginDep
) -> None:
    await sessions.revoke_session(session, principal.user.id, session_id, origin=origin)


@router.post("/sessions/revoke-others")
async def revoke_other_sessions(
    principal: CurrentUser, session: SessionDep, origin: OriginDep
) -> RevokedOut:
    count = await sessions.revoke_all(
        session,
        principal.user.id,
        except_session_id=principal.session.id,
        origin=origin,
        reason="revoke_others",
    )
    return RevokedOut(revoked=count)
