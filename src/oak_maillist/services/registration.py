"""Creating accounts: self-registration per the registration mode, invitations, first-run setup."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import ForbiddenError, NotFoundError
from oak_maillist.models import SystemRole, SystemSetting, UserInvitation
from oak_maillist.services import activity, system_settings, users
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import sessions
from oak_maillist.services.auth.sessions import TokenPair
from oak_maillist.services.crypto import new_token, token_hash

INVITATION_LIFETIME = timedelta(days=7)
SETUP_MARKER = "setup.completed"


class RegistrationClosedError(ForbiddenError):
    code = "registration_closed"
    template = "Registration is closed on this server"


class InvitationRequiredError(ForbiddenError):
    code = "invitation_required"
    template = "Registration needs a valid invitation for this address"


class SetupDoneError(NotFoundError):
    code = "not_found"
    template = "Not found"


async def register(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str,
    language: str,
    invitation_token: str | None,
    settings: SecuritySettings,
    origin: Origin,
) -> TokenPair:
    """Self-registration under the registration mode; signs the new user in."""
    mode = (await system_settings.load(session)).registration_mode
    invitation = None
    if mode == "closed":
        raise RegistrationClosedError
    if mode == "invite" or invitation_token:
        invitation = await _valid_invitation(session, invitation_token or "", email)
    role = SystemRole(invitation.role) if invitation else SystemRole.USER
    user = await users.create_user(
        session,
        email=email,
        password=password,
        settings=settings,
        display_name=display_name,
        language=language,
        role=role,
    )
    if invitation is not None:
        invitation.accepted_at = utcnow()
        user.email_verified = True
    await activity.record(
        session,
        "auth.registered",
        actor_id=user.id,
        origin=origin,
        target_type="user",
        target_id=user.id,
        invited=invitation is not None,
    )
    return await sessions.open_session(session, user, settings, origin=origin, method="password")


async def _valid_invitation(session: AsyncSession, raw: str, email: str) -> UserInvitation:
    invitation = (
        await session.execute(
            select(UserInvitation).where(UserInvitation.token_hash == token_hash(raw))
        )
    ).scalar_one_or_none()
    _, key = users.normalize_email(email)
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.expires_at <= utcnow()
        or invitation.email_normalized != key
    ):
        raise InvitationRequiredError
    return invitation


async def invite(
    session: AsyncSession, *, email: str, role: SystemRole, actor_id: int, origin: Origin
) -> tuple[UserInvitation, str]:
    """An invitation to register (for invite-only mode); returns it with its raw token."""
    _, key = users.normalize_email(email)
    raw = new_token()
    invitation = UserInvitation(
        email_normalized=key,
        token_hash=token_hash(raw),
        invited_by_id=actor_id,
        role=role,
        expires_at=utcnow() + INVITATION_LIFETIME,
    )
    session.add(invitation)
    await session.flush()
    await activity.record(
        session,
        "user.invited",
        actor_id=actor_id,
        origin=origin,
        target_type="invitation",
        target_id=invitation.id,
        role=str(role),
    )
    return invitation, raw


async def setup_required(session: AsyncSession) -> bool:
    """True until the first administrator exists."""
    return await users.count_admins(session) == 0


async def setup(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str,
    language: str,
    settings: SecuritySettings,
    origin: Origin,
) -> TokenPair:
    """Create the first administrator; afterwards this answers 404, as if it never existed."""
    if not await setup_required(session):
        raise SetupDoneError
    marker_taken = await session.get(SystemSetting, SETUP_MARKER) is not None
    try:
        async with session.begin_nested():
            if not marker_taken:
                session.add(SystemSetting(key=SETUP_MARKER, value=True))
                await session.flush()
    except IntegrityError:  # a concurrent setup won the race
        raise SetupDoneError from None
    user = await users.create_user(
        session,
        email=email,
        password=password,
        settings=settings,
        display_name=display_name,
        language=language,
        role=SystemRole.ADMIN,
    )
    user.email_verified = True
    await activity.record(
        session,
        "setup.completed",
        actor_id=user.id,
        origin=origin,
        target_type="user",
        target_id=user.id,
    )
    return await sessions.open_session(session, user, settings, origin=origin, method="password")
