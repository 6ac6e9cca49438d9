"""Signing in with a passkey: on its own, or as the second factor of an MFA step.

Kept apart from registration and management (passkeys) because sign-in carries its own rules:
the spent challenge, the counter that must move, the refusals that are logged and count
against the MFA step.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from webauthn import generate_authentication_options
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.structs import UserVerificationRequirement

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.logging import get_logger
from oak_maillist.models import AuthChallenge, Passkey, User
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import login, sessions
from oak_maillist.services.auth.passkey_verification import (
    REFUSED,
    PasskeyCounterRegressionError,
    PasskeyInvalidError,
    PasskeyLoginError,
    PasskeyUnknownError,
    PasskeyUserInactiveError,
    RelyingParty,
    credential_hash,
    user_handle,
    verify_assertion,
)
from oak_maillist.services.auth.passkeys import (
    AUTH_CHALLENGE,
    Ceremony,
    challenge_bytes,
    claim_ceremony,
    descriptor,
    find_by_hash,
    list_passkeys,
    record_event,
    start_ceremony,
)
from oak_maillist.services.auth.sessions import TokenPair

log = get_logger(__name__)


async def authentication_options(
    session: AsyncSession, *, mfa_token: str | None, rp: RelyingParty
) -> Ceremony:
    """Options for navigator.credentials.get(). Without an MFA step the list of credentials
    stays empty, so the browser offers the discoverable passkeys it holds for us (and user
    verification is required: the passkey replaces the password); within an MFA step, the
    user's own passkeys."""
    challenge = secrets.token_bytes(32)
    if mfa_token is None:
        options = generate_authentication_options(
            rp_id=rp.id,
            challenge=challenge,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return await start_ceremony(session, AUTH_CHALLENGE, challenge, options, user_id=None)
    _step, user = await login.mfa_step(session, mfa_token)
    existing = await list_passkeys(session, user.id)
    if not existing:
        raise PasskeyUnknownError
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        allow_credentials=[descriptor(passkey) for passkey in existing],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return await start_ceremony(session, AUTH_CHALLENGE, challenge, options, user_id=user.id)


async def sign_in(
    session: AsyncSession,
    *,
    challenge_id: str,
    credential: dict[str, Any],
    mfa_token: str | None,
    rp: RelyingParty,
    settings: SecuritySettings,
    origin: Origin,
) -> TokenPair:
    """Open a session for the owner of a passkey that answered our challenge: on its own, or
    as the second factor of the MFA step named by `mfa_token`. The challenge is spent by the
    first attempt, right or wrong; a refusal is logged and counts against the MFA step."""
    step = await login.mfa_step(session, mfa_token) if mfa_token is not None else None
    ceremony = await claim_ceremony(session, AUTH_CHALLENGE, challenge_id)
    try:
        passkey, user = await _accept_assertion(
            session, ceremony, credential, owner=step[1] if step else None, rp=rp
        )
    except PasskeyLoginError as exc:
        await _record_refusal(session, exc, origin, step[0] if step else None)
        raise
    await record_event(
        session, "auth.passkey_login", user.id, passkey, origin, mfa=step is not None
    )
    if step is not None:
        return await login.complete_mfa(
            session, step[0], user, settings, origin=origin, method="passkey"
        )
    return await sessions.open_session(session, user, settings, origin=origin, method="passkey")


async def _accept_assertion(
    session: AsyncSession,
    ceremony: AuthChallenge,
    credential: dict[str, Any],
    *,
    owner: User | None,
    rp: RelyingParty,
) -> tuple[Passkey, User]:
    """The passkey and its active user, once the assertion checks out and its counter moved.
    User verification is required when the passkey is the only factor."""
    try:
        parsed = parse_authentication_credential_json(credential)
    except REFUSED:
        raise PasskeyInvalidError(reason="malformed") from None
    passkey = await find_by_hash(session, credential_hash(parsed.raw_id))
    if passkey is None:
        raise PasskeyUnknownError
    owner_id = owner.id if owner else ceremony.user_id
    if owner_id is not None and passkey.user_id != owner_id:
        raise PasskeyUnknownError(passkey=passkey, reason="other_user")
    try:
        verified = verify_assertion(
            parsed,
            challenge=challenge_bytes(ceremony),
            rp=rp,
            public_key=passkey.public_key,
            sign_count=passkey.sign_count,
            require_user_verification=owner is None,
        )
    except PasskeyLoginError as exc:
        exc.passkey = passkey
        raise
    # WebAuthn L3 §7.2 step 6: a user handle, when given (always, for a discoverable
    # credential), must name the passkey's owner.
    handle = parsed.response.user_handle
    if handle != user_handle(passkey.user_id) and (handle is not None or owner is None):
        raise PasskeyInvalidError(passkey=passkey, reason="user_handle")
    user = await session.get(User, passkey.user_id)
    if user is None or not user.is_active:
        raise PasskeyUserInactiveError(passkey=passkey)
    if not await _advance_counter(session, passkey, verified):
        raise PasskeyInvalidError(passkey=passkey, reason="concurrent_use")
    return passkey, user


async def _record_refusal(
    session: AsyncSession, error: PasskeyLoginError, origin: Origin, step: AuthChallenge | None
) -> None:
    if step is not None:
        await login.fail_mfa(session, step)
    passkey = error.passkey
    facts = dict(error.facts)
    if isinstance(error, PasskeyCounterRegressionError) and passkey is not None:
        # A genuine signature with an old counter: a copied authenticator, or a replay.
        facts["stored"] = passkey.sign_count
        log.warning(
            "passkey counter regression", passkey_id=passkey.id, user_id=passkey.user_id, **facts
        )
    await activity.record(
        session,
        "auth.passkey_failed",
        actor_id=passkey.user_id if passkey else None,
        origin=origin,
        target_type="passkey" if passkey else "",
        target_id=passkey.id if passkey else "",
        reason=error.reason,
        **facts,
    )


async def _advance_counter(
    session: AsyncSession, passkey: Passkey, verified: VerifiedAuthentication
) -> bool:
    """Store the new counter unless a concurrent sign-in changed it since we read it."""
    now = utcnow()
    result = await session.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
        .values(
            sign_count=verified.new_sign_count,
            last_used_at=now,
            backed_up=verified.credential_backed_up,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    set_committed_value(passkey, "sign_count", verified.new_sign_count)
    set_committed_value(passkey, "last_used_at", now)
    set_committed_value(passkey, "backed_up", verified.credential_backed_up)
    return True
