"""TOTP second factor and backup codes."""

from __future__ import annotations

from fastapi import APIRouter

from oak_maillist.api.deps import CurrentUser, LimiterDep, OriginDep, SessionDep, SettingsDep
from oak_maillist.api.v1.auth import token_out
from oak_maillist.api.v1.schemas.auth import TokenOut
from oak_maillist.api.v1.schemas.mfa import (
    BackupCodesOut,
    MfaConfirmIn,
    MfaStatusOut,
    MfaVerifyIn,
    TotpEnableIn,
    TotpSetupOut,
)
from oak_maillist.services.auth import totp

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/mfa/status")
async def mfa_status(principal: CurrentUser, session: SessionDep) -> MfaStatusOut:
    return MfaStatusOut.model_validate(await totp.mfa_status(session, principal.user))


@router.post("/mfa/totp/setup")
async def setup_totp(
    principal: CurrentUser, session: SessionDep, settings: SettingsDep, origin: OriginDep
) -> TotpSetupOut:
    """A new secret to scan; it takes effect once /mfa/totp/enable confirms a code."""
    setup = await totp.begin_setup(
        session, principal.user, settings=settings.security, origin=origin
    )
    return TotpSetupOut(secret=setup.secret, otpauth_uri=setup.otpauth_uri, qr_svg=setup.qr_svg)


@router.post("/mfa/totp/enable")
async def enable_totp(
    body: TotpEnableIn,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> BackupCodesOut:
    """Turn TOTP on with a code from the app; the answer holds the backup codes, once."""
    await limiter.hit("mfa_ip", origin.ip)
    codes = await totp.enable(
        session, principal.user, code=body.code, settings=settings.security, origin=origin
    )
    return BackupCodesOut(backup_codes=codes)


@router.post("/mfa/totp/disable")
async def disable_totp(
    body: MfaConfirmIn,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> MfaStatusOut:
    """Turn TOTP off; the secret and the backup codes are deleted."""
    await limiter.hit("mfa_ip", origin.ip)
    await totp.disable(
        session,
        principal.user,
        password=body.password,
        code=body.code,
        settings=settings.security,
        origin=origin,
    )
    return MfaStatusOut.model_validate(await totp.mfa_status(session, principal.user))


@router.post("/mfa/backup-codes/regenerate")
async def regenerate_backup_codes(
    body: MfaConfirmIn,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> BackupCodesOut:
    """Ten new backup codes; the old ones stop working."""
    await limiter.hit("mfa_ip", origin.ip)
    codes = await totp.regenerate_backup_codes(
        session,
        principal.user,
        password=body.password,
        code=body.code,
        settings=settings.security,
        origin=origin,
    )
    return BackupCodesOut(backup_codes=codes)


@router.post("/mfa/totp/verify")
async def verify_totp(
    body: MfaVerifyIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> TokenOut:
    """Second step of sign-in: the mfa_token from /auth/login and a TOTP or backup code."""
    await limiter.hit("mfa_ip", origin.ip)
    pair = await totp.verify_login(
        session,
        mfa_token=body.mfa_token,
        code=body.code,
        settings=settings.security,
        origin=origin,
        limiter=limiter,
    )
    return token_out(pair)
