"""TOTP second factor (RFC 6238) and single-use backup codes."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pyotp
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import ConflictError, InvalidInputError
from oak_maillist.models import BackupCode, User
from oak_maillist.ratelimit import Limiter
from oak_maillist.services import activity, system_settings
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import login, passwords
from oak_maillist.services.auth.sessions import TokenPair
from oak_maillist.services.crypto import decrypt, encrypt, same

# What every authenticator app assumes when the otpauth URI leaves them out: SHA-1, 6 digits,
# 30-second steps counted from the Unix epoch (RFC 6238 §4, T0 = 0).
DIGITS = 6
PERIOD = 30
# Steps accepted either side of the current one, for clock drift and typing time; RFC 6238
# §5.2 recommends at most one.
DRIFT_STEPS = 1
ENCRYPTION_PURPOSE = "totp"
BACKUP_CODE_COUNT = 10
BACKUP_CODE_LENGTH = 10
# Read off paper and typed by hand: no 0/o, 1/l/i. 31 symbols, 10 of them: ~49.5 bits.
BACKUP_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
TOTP = "totp"
BACKUP_CODE = "backup_code"

_SEPARATORS = re.compile(r"[ \t-]+")
_TOTP_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")
_BACKUP_CODE = re.compile(rf"[{BACKUP_CODE_ALPHABET}]{{{BACKUP_CODE_LENGTH}}}")


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


def normalize_code(raw: str) -> str:
    """A code as typed, without spaces, tabs and dashes, lowercased."""
    return _SEPARATORS.sub("", raw).lower()


def is_totp_code(code: str) -> bool:
    return _TOTP_CODE.fullmatch(code) is not None


def is_backup_code(code: str) -> bool:
    return _BACKUP_CODE.fullmatch(code) is not None


def new_secret() -> str:
    """A random base32 secret of 160 bits, the key length RFC 4226 §4 (R6) recommends."""
    return pyotp.random_base32(length=32)


def time_step(at: float) -> int:
    """RFC 6238 §4.2: T = floor((now - T0) / X) with T0 = 0 and X = 30 seconds."""
    return int(at // PERIOD)


def code_for_step(secret: str, step: int) -> str:
    """The code for one time step: TOTP is HOTP (RFC 4226) with the step as the counter."""
    return pyotp.HOTP(secret, digits=DIGITS).at(step)


def matching_step(
    secret: str, code: str, *, at: float | None = None, after: int | None = None
) -> int | None:
    """The time step, within DRIFT_STEPS of `at` (default: now) and later than `after`,
    whose code is `code`; None if there is none."""
    current = time_step(time.time() if at is None else at)
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step < 0 or (after is not None and step <= after):
            continue
        # Every candidate is compared, in constant time, whether or not one matched already.
        if same(code_for_step(secret, step), code) and found is None:
            found = step
    return found


def otpauth_uri(secret: str, *, account: str, issuer: str) -> str:
    """The Key URI authenticator apps scan. pyotp leaves out algorithm, digits and period
    when they are SHA1, 6 and 30, the defaults of the Key URI Format."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(text: str) -> str:
    """A standalone SVG image (with its namespace, without an XML declaration) of a QR code."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=4, xmldecl=False, nl=False)
    return out.getvalue().decode()


def _backup_code_hash(code: str, settings: SecuritySettings) -> str:
    """What we store for a backup code: HMAC-SHA256 under a key derived from jwt_secret.

    Not Argon2: a slow hash protects secrets people choose; these are random (~49.5 bits
    each), and the key, which is not in the database, already stops offline guessing from a
    stolen copy. Argon2 would cost up to ten hashes per guess (~2 s of CPU at production
    settings) on an endpoint anyone can call: a cheap denial of service.
    """
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"oak-maillist/backup-codes/v1",
        info=b"backup-code",
    ).derive(settings.jwt_secret.get_secret_value().encode())
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def _new_backup_code() -> str:
    return "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))


def _display(code: str) -> str:
    half = BACKUP_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


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
    codes = await _replace_backup_codes(session, user, settings)
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
    codes = await _replace_backup_codes(session, user, settings)
    await _record(session, "auth.backup_codes_regenerated", user, origin, confirmed_by=method)
    return codes


async def mfa_status(session: AsyncSession, user: User) -> MfaStatus:
    return MfaStatus(
        totp_enabled=user.totp_enabled,
        backup_codes_remaining=await _unused_backup_codes(session, user.id),
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
    if is_backup_code(code) and await _accept_backup_code(session, user, code, settings):
        remaining = await _unused_backup_codes(session, user.id)
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


async def _accept_backup_code(
    session: AsyncSession, user: User, code: str, settings: SecuritySettings
) -> bool:
    """Spend an unused backup code; the conditional UPDATE lets only one request spend it."""
    wanted = _backup_code_hash(code, settings)
    rows = await session.execute(
        select(BackupCode.id, BackupCode.code_hash).where(
            BackupCode.user_id == user.id, BackupCode.used_at.is_(None)
        )
    )
    match: int | None = None
    for row_id, code_hash in rows.all():
        if same(code_hash, wanted) and match is None:
            match = row_id
    if match is None:
        return False
    spent = await session.execute(
        update(BackupCode)
        .where(BackupCode.id == match, BackupCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(spent, "rowcount", 0) == 1)


async def _replace_backup_codes(
    session: AsyncSession, user: User, settings: SecuritySettings
) -> list[str]:
    await session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    session.add_all(
        BackupCode(user_id=user.id, code_hash=_backup_code_hash(code, settings)) for code in codes
    )
    await session.flush()
    return [_display(code) for code in codes]


async def _unused_backup_codes(session: AsyncSession, user_id: int) -> int:
    count = await session.execute(
        select(func.count())
        .select_from(BackupCode)
        .where(BackupCode.user_id == user_id, BackupCode.used_at.is_(None))
    )
    return int(count.scalar_one())


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
