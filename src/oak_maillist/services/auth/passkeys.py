"""Passkeys (WebAuthn): registration and management, and the ceremonies' stored challenges.

`webauthn` does the verifying, through passkey_verification; sign-in lives in passkey_login.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import generate_registration_options
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json_dict
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from oak_maillist.errors import ConflictError, NotFoundError
from oak_maillist.models import AuthChallenge, Passkey, User
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import challenges
from oak_maillist.services.auth.passkey_verification import (
    PasskeyRegistrationInvalidError,
    RelyingParty,
    credential_hash,
    user_handle,
    verify_registration,
)

REGISTER_CHALLENGE = "passkey_register"
AUTH_CHALLENGE = "passkey_auth"
CEREMONY_SECONDS = 300
MAX_PASSKEYS = 25


class PasskeyNotFoundError(NotFoundError):
    code = "passkey_not_found"
    template = "Passkey {passkey_id} does not exist"


class PasskeyExistsError(ConflictError):
    code = "passkey_exists"
    template = "This passkey is already registered"


class PasskeyLimitError(ConflictError):
    code = "passkey_limit_reached"
    template = "An account can have at most {limit} passkeys"


@dataclass(frozen=True)
class Ceremony:
    challenge_id: str
    options: dict[str, Any]


async def registration_options(session: AsyncSession, user: User, *, rp: RelyingParty) -> Ceremony:
    """Options for navigator.credentials.create(): a discoverable credential (so it can sign
    in without a password), excluding the authenticators the user registered already."""
    existing = await list_passkeys(session, user.id)
    _check_limit(len(existing))
    challenge = secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle(user.id),
        user_name=user.email,
        user_display_name=user.display_name or user.email,
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[descriptor(passkey) for passkey in existing],
    )
    return await start_ceremony(session, REGISTER_CHALLENGE, challenge, options, user_id=user.id)


async def register(
    session: AsyncSession,
    user: User,
    *,
    challenge_id: str,
    credential: dict[str, Any],
    name: str,
    rp: RelyingParty,
    origin: Origin,
) -> Passkey:
    """Verify the authenticator's answer to our options and keep the new passkey."""
    try:
        ceremony = await claim_ceremony(session, REGISTER_CHALLENGE, challenge_id)
    except challenges.ChallengeInvalidError:
        raise PasskeyRegistrationInvalidError from None
    if ceremony.user_id != user.id:
        raise PasskeyRegistrationInvalidError
    new = verify_registration(credential, challenge=challenge_bytes(ceremony), rp=rp)
    _check_limit(len(await list_passkeys(session, user.id)))
    key_hash = credential_hash(new.credential_id)
    if await find_by_hash(session, key_hash) is not None:
        raise PasskeyExistsError
    passkey = Passkey(
        user_id=user.id,
        credential_id=bytes_to_base64url(new.credential_id),
        credential_id_hash=key_hash,
        public_key=new.public_key,
        sign_count=new.sign_count,
        name=name,
        aaguid=new.aaguid,
        transports=new.transports,
        backed_up=new.backed_up,
    )
    session.add(passkey)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # registered by a concurrent request since the check above
        raise PasskeyExistsError from None
    await record_event(
        session, "auth.passkey_added", user.id, passkey, origin, aaguid=passkey.aaguid
    )
    return passkey


async def list_passkeys(session: AsyncSession, user_id: int) -> list[Passkey]:
    rows = await session.execute(
        select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id)
    )
    return list(rows.scalars())


async def get_passkey(session: AsyncSession, user_id: int, passkey_id: int) -> Passkey:
    """One of the user's passkeys; another user's is reported as not found."""
    passkey = await session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user_id:
        raise PasskeyNotFoundError(passkey_id=passkey_id)
    return passkey


async def rename(
    session: AsyncSession, user_id: int, passkey_id: int, *, name: str, origin: Origin
) -> Passkey:
    passkey = await get_passkey(session, user_id, passkey_id)
    previous, passkey.name = passkey.name, name
    await record_event(session, "auth.passkey_renamed", user_id, passkey, origin, previous=previous)
    await session.flush()
    return passkey


async def remove(session: AsyncSession, user_id: int, passkey_id: int, *, origin: Origin) -> None:
    passkey = await get_passkey(session, user_id, passkey_id)
    await session.delete(passkey)
    await record_event(session, "auth.passkey_removed", user_id, passkey, origin)
    await session.flush()


async def start_ceremony(
    session: AsyncSession, kind: str, challenge: bytes, options: Any, *, user_id: int | None
) -> Ceremony:
    """Store a new challenge of `kind` (registration or sign-in) and return the options the
    browser needs, with the id that `claim_ceremony` takes back."""
    challenge_id = await challenges.create(
        session,
        kind=kind,
        ttl_seconds=CEREMONY_SECONDS,
        user_id=user_id,
        data={"challenge": bytes_to_base64url(challenge)},
    )
    return Ceremony(challenge_id=challenge_id, options=options_to_json_dict(options))


async def claim_ceremony(session: AsyncSession, kind: str, challenge_id: str) -> AuthChallenge:
    """The open challenge, marked used; of two concurrent requests only one gets it."""
    challenge = await challenges.find(session, kind=kind, raw=challenge_id)
    await challenges.consume(session, challenge)
    return challenge


def challenge_bytes(challenge: AuthChallenge) -> bytes:
    """The random challenge a stored ceremony sent to the browser."""
    value = challenge.data.get("challenge")
    if not isinstance(value, str):
        raise challenges.ChallengeInvalidError
    return base64url_to_bytes(value)


def descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    """How the browser is told about a stored passkey (to allow or to exclude it)."""
    known = {t.value for t in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id),
        transports=[AuthenticatorTransport(t) for t in passkey.transports if t in known] or None,
    )


def _check_limit(count: int) -> None:
    if count >= MAX_PASSKEYS:
        raise PasskeyLimitError(limit=MAX_PASSKEYS)


async def find_by_hash(session: AsyncSession, key_hash: str) -> Passkey | None:
    """The passkey with this credential id hash, if any."""
    rows = await session.execute(select(Passkey).where(Passkey.credential_id_hash == key_hash))
    return rows.scalar_one_or_none()


async def record_event(
    session: AsyncSession,
    action: str,
    user_id: int,
    passkey: Passkey,
    origin: Origin,
    **details: Any,
) -> None:
    """Record a passkey event in the activity log."""
    await activity.record(
        session,
        action,
        actor_id=user_id,
        origin=origin,
        target_type="passkey",
        target_id=passkey.id,
        name=passkey.name,
        **details,
    )
