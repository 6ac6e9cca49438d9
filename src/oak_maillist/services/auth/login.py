"""Password sign-in with lockout, and the MFA step that may follow it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import ForbiddenError, NotAuthenticatedError, RateLimitedError
from oak_maillist.models import AuthChallenge, Passkey, User
from oak_maillist.services import activity, users
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import challenges, passwords, sessions
from oak_maillist.services.auth.sessions import TokenPair

MFA_CHALLENGE = "mfa"
# Wrong second factors accepted per MFA step before the step must start over.
MFA_MAX_ATTEMPTS = 5
# Failed passwords before the account slows down; the delay doubles per failure up to a cap,
# so an attacker cannot lock the owner out for long, and passkey sign-in is never locked.
FREE_FAILURES = 5
LOCK_BASE = timedelta(seconds=30)
LOCK_CAP = timedelta(minutes=15)
# A valid hash to check against when the user does not exist, so timing does not tell.
_DUMMY_HASH: dict[tuple[int, int, int], str] = {}


class InvalidCredentialsError(NotAuthenticatedError):
    code = "invalid_credentials"
    template = "The email address or password is wrong"
    persist = True  # keep the failure count and the log entry


class AccountLockedError(RateLimitedError):
    code = "account_locked"
    template = "Too many failed sign-ins; retry after {retry_after} seconds"
    persist = True


class AccountDisabledError(ForbiddenError):
    code = "account_disabled"
    template = "The account is deactivated"


class MfaCodeInvalidError(NotAuthenticatedError):
    code = "mfa_code_invalid"
    template = "The code is not valid"
    persist = True  # count the attempt against the MFA step


@dataclass(frozen=True)
class MfaRequired:
    mfa_token: str
    methods: list[str]
    expires_in: int


async def _dummy_hash(settings: SecuritySettings) -> str:
    key = (settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism)
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = await passwords.hash_password("not a real password", settings)
    return _DUMMY_HASH[key]


async def password_login(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    settings: SecuritySettings,
    origin: Origin,
) -> TokenPair | MfaRequired:
    """Check the password; open a session, or hand out an MFA step when the user has TOTP."""
    try:
        user = await users.find_user_by_email(session, email)
    except users.InvalidEmailError:
        user = None
    now = utcnow()
    if user is None or user.password_hash is None:
        await passwords.verify_password(await _dummy_hash(settings), password, settings)
        await activity.record(
            session, "auth.login_failed", actor_id=None, origin=origin, reason="unknown_user"
        )
        raise InvalidCredentialsError
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLockedError(retry_after=int((user.locked_until - now).total_seconds()) + 1)
    if not await passwords.verify_password(user.password_hash, password, settings):
        _count_failure(user)
        await activity.record(
            session,
            "auth.login_failed",
            actor_id=user.id,
            origin=origin,
            target_type="user",
            target_id=user.id,
            reason="bad_password",
            failures=user.failed_login_count,
        )
        raise InvalidCredentialsError
    if not user.is_active:
        raise AccountDisabledError
    user.failed_login_count = 0
    user.locked_until = None
    if passwords.needs_rehash(user.password_hash, settings):
        user.password_hash = await passwords.hash_password(password, settings)
    if user.totp_enabled:
        return await start_mfa(session, user, settings)
    return await sessions.open_session(session, user, settings, origin=origin, method="password")


def _count_failure(user: User) -> None:
    user.failed_login_count += 1
    over = user.failed_login_count - FREE_FAILURES
    if over >= 0:
        # The exponent is bounded: past the cap, doubling further only risks an overflow.
        user.locked_until = utcnow() + min(LOCK_BASE * (2 ** min(over, 16)), LOCK_CAP)


async def start_mfa(session: AsyncSession, user: User, settings: SecuritySettings) -> MfaRequired:
    """The password was right; the second factor comes next, within the step's lifetime."""
    ttl = settings.session_token_expiration_seconds
    token = await challenges.create(session, kind=MFA_CHALLENGE, ttl_seconds=ttl, user_id=user.id)
    methods = ["totp", "backup_code"]
    passkeys = (
        await session.execute(
            select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
        )
    ).scalar_one()
    if passkeys:
        methods.append("passkey")
    return MfaRequired(mfa_token=token, methods=methods, expires_in=ttl)


async def mfa_step(session: AsyncSession, mfa_token: str) -> tuple[AuthChallenge, User]:
    """The open MFA step named by `mfa_token` and its user (still active)."""
    challenge = await challenges.find(session, kind=MFA_CHALLENGE, raw=mfa_token)
    user = await session.get(User, challenge.user_id) if challenge.user_id else None
    if user is None or not user.is_active:
        raise challenges.ChallengeInvalidError
    return challenge, user


async def fail_mfa(session: AsyncSession, challenge: AuthChallenge) -> None:
    """A wrong second factor: counted, and the step ends after MFA_MAX_ATTEMPTS."""
    await challenges.count_failure(session, challenge, MFA_MAX_ATTEMPTS)


async def complete_mfa(
    session: AsyncSession,
    challenge: AuthChallenge,
    user: User,
    settings: SecuritySettings,
    *,
    origin: Origin,
    method: str,
) -> TokenPair:
    """The second factor was right: close the step and open the session."""
    await challenges.consume(session, challenge)
    return await sessions.open_session(session, user, settings, origin=origin, method=method)
