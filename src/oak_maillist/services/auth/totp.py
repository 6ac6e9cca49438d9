"""TOTP second factor (RFC 6238) and single-use backup codes: setup, enabling, disabling and
the second step of a sign-in.

What codes look like and the RFC 6238 maths are in totp_codes; storing and spending backup
codes is in backup_codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from oak_maillist.config import SecuritySettings
from oak_maillist.errors import ConflictError, InvalidInputError
from oak_maillist.models import BackupCode, User
from oak_maillist.ratelimit import Limiter
from oak_maillist.services import activity, system_settings
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import login, passwords
from oak_maillist.services.auth.backup_codes import (
    accept_backup_code,
    replace_backup_codes,
    unused_backup_codes,
)
from oak_maillist.services.auth.sessions import TokenPair
from oak_maillist.services.auth.totp_codes import (
    is_backup_code,
    is_totp_code,
    matching_step,
    new_secret,
    normalize_code,
    otpauth_uri,
    qr_svg,
)
from oak_maillist.services.crypto import decrypt, encrypt

ENCRYPTION_PURPOSE = "totp"
TOTP = "totp"
BACKUP_CODE = "backup_code"


class TotpNotSetUpError(ConflictError):
    code = "totp_not_set_up"
    template = "Start the TOTP setup first"


class TotpAlreadyEnabledError(ConflictError):
    code = "totp_already_enabled"
    template = "Two-factor authentication is already enabled"


class TotpNotEnabledError(ConflictError):
    code = "totp_not_enabled"
    template = "Two-factor authentication is not enabled"


class TotpCodeInvalidError(InvalidInputError):
    code = "totp_code_invalid"
    template = "The code is not valid or was already used"
    persist = True  # keep the auth.mfa_failed entry


class PasswordOrCodeRequiredError(InvalidInputError):
    code = "password_or_code_required"
    template = "Confirm with your password or a code from your authenticator"


class WrongPasswordError(InvalidInputError):
    code = "wrong_password"
    template = "The current password is wrong"
    persist = True  # keep the auth.mfa_failed entry


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class MfaStatus:
    totp_enabled: bool
    backup_codes_remaining: int


async def begin_setup(
    session: AsyncSession, user: User, *, settings: SecuritySettings, origin: Origin
) -> TotpSetup:
    """Store a new secret, not yet enabled (replacing an earlier unconfirmed one), and return
    what the user needs to add it to an authenticator app."""
    if user.totp_enabled:
        raise TotpAlreadyEnabledError
    secret = new_secret()
    user.totp_secret = encrypt(secret, settings, purpose=ENCRYPTION_PURPOSE)
    user.totp_last_step = None  # steps of an earlier secret say nothing about this one
    issuer = (await system_settings.load(session)).site_name
    uri = otpauth_uri(secret, account=user.email, issuer=issuer)
    await _record(session, "auth.mfa_setup_started", user, origin)
    await session.flush()
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_svg=qr_svg(uri))


async def enable(
    session: AsyncSession, user: User, *, code: str, settings: SecuritySettings, origin: Origin
) -> list[str]:
    """Turn TOTP on once the user shows a valid code for the pending secret; returns the
    backup codes, in plain text for the only time."""
    if user.totp_enabled:
        raise TotpAlreadyEnabledError
    if user.totp_secret is None:
        raise TotpNotSetUpError
    if not await _accept_totp(session, user, code, settings):
        await _record(session, "auth.mfa_failed", user, origin, during="enable", reason="code")
        raise TotpCodeInvalidError
    user.totp_enabled = True
    codes = await replace_backup_codes(session, user, settings)
    await _record(session, "auth.mfa_enabled", user, origin, method=TOTP)
    return codes


async def disable(
    session: AsyncSession,
    user: User,
    *,
    password: str | None,
    code: str | None,
    settings: SecuritySettings,
    origin: Origin,
) -> None:
    """Turn TOTP off after the password (if given) or a TOTP or backup code confirms it."""
    if not user.totp_enabled:
        raise TotpNotEnabledError
    method = await _confirm(
        session,
        user,
        password=password,
        code=code,
        settings=settings,
        origin=origin,
        during="disable",
    )
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None
    await session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    await _record(session, "auth.mfa_disabled", user, origin, confirmed_by=method)
    await session.flush()


async def regenerate_backup_codes(
    session: AsyncSession,
    user: User,
    *,
    password: str | None,
    code: str | None,
    settings: SecuritySettings,
    origin: Origin,
) -> list[str]:
    """Replace every backup code, used or not, with ten new ones (confirmed as for disable)."""
    if not user.totp_enabled:
        raise TotpNotEnabledError
    method = await _confirm(
        session,
        user,
        password=password,
        code=code,
        settings=settings,
        origin=origin,
        during="regenerate_backup_codes",
    )
    codes = await replace_backup_codes(session, user, settings)
    await _record(session, "auth.backup_codes_regenerated", user, origin, confirmed_by=method)
    return codes


async def mfa_status(session: AsyncSession, user: User) -> MfaStatus:
    return MfaStatus(
        totp_enabled=user.totp_enabled,
        backup_codes_remaining=await unused_backup_codes(session, user.id),
    )


async def verify_login(
    session: AsyncSession,
    *,
    mfa_token: str,
    code: str,
    settings: SecuritySettings,
    origin: Origin,
    limiter: Limiter,
) -> TokenPair:
    """The second step of a password sign-in: a TOTP or backup code opens the session.

    A wrong code counts against the step (login.MFA_MAX_ATTEMPTS) and is committed although
    the request fails; the account's own limit stops guessing across many MFA steps."""
    challenge, user = await login.mfa_step(session, mfa_token)
    await limiter.hit("mfa_account", str(user.id))
    method = await _accept_second_factor(session, user, code, settings, origin)
    if method is None:
        await login.fail_mfa(session, challenge)
        await _record(
            session, "auth.mfa_failed", user, origin, during="login", attempts=challenge.attempts
        )
        raise login.MfaCodeInvalidError
    return await login.complete_mfa(
        session, challenge, user, settings, origin=origin, method=method
    )


async def _confirm(
    session: AsyncSession,
    user: User,
    *,
    password: str | None,
    code: str | None,
    settings: SecuritySettings,
    origin: Origin,
    during: str,
) -> str:
    """Check the password when one is given, else the code; returns which was used."""
    if password is not None:
        if user.password_hash is not None and await passwords.verify_password(
            user.password_hash, password, settings
        ):
            return "password"
        await _record(session, "auth.mfa_failed", user, origin, during=during, reason="password")
        raise WrongPasswordError
    if code is not None:
        method = await _accept_second_factor(session, user, code, settings, origin)
        if method is not None:
            return method
        await _record(session, "auth.mfa_failed", user, origin, during=during, reason="code")
        raise TotpCodeInvalidError
    raise PasswordOrCodeRequiredError


async def _accept_second_factor(
    session: AsyncSession, user: User, code: str, settings: SecuritySettings, origin: Origin
) -> str | None:
    """Spend a TOTP or backup code of a user with TOTP enabled; the method, or None."""
    code = normalize_code(code)
    if not user.totp_enabled:
        return None
    if is_totp_code(code):
        return TOTP if await _accept_totp(session, user, code, settings) else None
    if is_backup_code(code) and await accept_backup_code(session, user, code, settings):
        remaining = await unused_backup_codes(session, user.id)
        await _record(session, "auth.backup_code_used", user, origin, remaining=remaining)
        return BACKUP_CODE
    return None


async def _accept_totp(
    session: AsyncSession, user: User, code: str, settings: SecuritySettings
) -> bool:
    """Check a code against the user's secret and claim its time step.

    A code is accepted once (RFC 6238 §5.2): the step must be later than the last accepted
    one, and the conditional UPDATE makes that hold when two requests race with one code."""
    if user.totp_secret is None:
        return False
    secret = decrypt(user.totp_secret, settings, purpose=ENCRYPTION_PURPOSE)
    step = matching_step(secret, code, after=user.totp_last_step)
    if step is None:
        return False
    claimed = await session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


async def _record(
    session: AsyncSession, action: str, user: User, origin: Origin, **details: Any
) -> None:
    """One activity entry about the user's own second factor (never a secret or a code)."""
    await activity.record(
        session,
        action,
        actor_id=user.id,
        origin=origin,
        target_type="user",
        target_id=user.id,
        **details,
    )
