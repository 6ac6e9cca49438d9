"""Passkeys (WebAuthn): registration, management and passwordless sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status

from oak_maillist.api.deps import (
    CurrentUser,
    IdPath,
    LimiterDep,
    OriginDep,
    SessionDep,
    SettingsDep,
)
from oak_maillist.api.v1.auth import token_out
from oak_maillist.api.v1.schemas.auth import TokenOut
from oak_maillist.api.v1.schemas.passkeys import (
    CeremonyOut,
    PasskeyAuthOptionsIn,
    PasskeyLoginIn,
    PasskeyOut,
    PasskeyRegisterIn,
    PasskeyRenameIn,
)
from oak_maillist.services.auth import passkey_login, passkey_verification, passkeys
from oak_maillist.services.auth.passkeys import Ceremony

router = APIRouter(prefix="/auth", tags=["auth"])


def _ceremony_out(ceremony: Ceremony) -> CeremonyOut:
    return CeremonyOut(challenge_id=ceremony.challenge_id, options=ceremony.options)


@router.post("/passkey/register-options")
async def registration_options(
    principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> CeremonyOut:
    """Options for startRegistration(); send its answer to /passkey/register."""
    ceremony = await passkeys.registration_options(
        session, principal.user, rp=passkey_verification.relying_party(settings)
    )
    return _ceremony_out(ceremony)


@router.post("/passkey/register", status_code=status.HTTP_201_CREATED)
async def register(
    body: PasskeyRegisterIn,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> PasskeyOut:
    passkey = await passkeys.register(
        session,
        principal.user,
        challenge_id=body.challenge_id,
        credential=body.credential.as_json(),
        name=body.name,
        rp=passkey_verification.relying_party(settings),
        origin=origin,
    )
    return PasskeyOut.model_validate(passkey)


@router.get("/passkeys")
async def list_passkeys(principal: CurrentUser, session: SessionDep) -> list[PasskeyOut]:
    rows = await passkeys.list_passkeys(session, principal.user.id)
    return [PasskeyOut.model_validate(row) for row in rows]


@router.patch("/passkeys/{passkey_id}")
async def rename_passkey(
    passkey_id: IdPath,
    body: PasskeyRenameIn,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> PasskeyOut:
    passkey = await passkeys.rename(
        session, principal.user.id, passkey_id, name=body.name, origin=origin
    )
    return PasskeyOut.model_validate(passkey)


@router.delete("/passkeys/{passkey_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_passkey(
    passkey_id: IdPath, principal: CurrentUser, session: SessionDep, origin: OriginDep
) -> None:
    await passkeys.remove(session, principal.user.id, passkey_id, origin=origin)


@router.post("/passkey/auth-options")
async def authentication_options(
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
    body: Annotated[PasskeyAuthOptionsIn | None, Body()] = None,
) -> CeremonyOut:
    """Options for startAuthentication(): any passkey of ours the browser holds, or, with the
    mfa_token from /auth/login, the passkeys of that user as the second factor."""
    await limiter.hit("passkey_ip", origin.ip)
    ceremony = await passkey_login.authentication_options(
        session,
        mfa_token=body.mfa_token if body else None,
        rp=passkey_verification.relying_party(settings),
    )
    return _ceremony_out(ceremony)


@router.post("/passkey/login")
async def login_with_passkey(
    body: PasskeyLoginIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> TokenOut:
    """Tokens for the owner of the passkey that answered a challenge of /passkey/auth-options."""
    await limiter.hit("passkey_ip", origin.ip)
    pair = await passkey_login.sign_in(
        session,
        challenge_id=body.challenge_id,
        credential=body.credential.as_json(),
        mfa_token=body.mfa_token,
        rp=passkey_verification.relying_party(settings),
        settings=settings.security,
        origin=origin,
    )
    return token_out(pair)
