"""Passkeys (WebAuthn): registration, management and sign-in; `webauthn` does the verifying."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from oak_maillist.config import SecuritySettings, Settings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import (
    ConflictError,
    ForbiddenError,
    NotAuthenticatedError,
    NotFoundError,
)
from oak_maillist.logging import get_logger
from oak_maillist.models import AuthChallenge, Passkey, User
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import challenges, login, sessions
from oak_maillist.services.auth.sessions import TokenPair

log = get_logger(__name__)

REGISTER_CHALLENGE = "passkey_register"
AUTH_CHALLENGE = "passkey_auth"
CEREMONY_SECONDS = 300
MAX_PASSKEYS = 25
MAX_CREDENTIAL_ID = 1023
# What `webauthn` raises on hostile input besides its own errors: its CBOR and COSE parsing
# indexes into attacker-supplied structures (KeyError, IndexError, TypeError), and
# `cryptography` refuses points off the curve with ValueError.
_REFUSED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError)


class PasskeyNotFoundError(NotFoundError):
    code = "passkey_not_found"
    template = "Passkey {passkey_id} does not exist"


class PasskeyExistsError(ConflictError):
    code = "passkey_exists"
    template = "This passkey is already registered"


class PasskeyLimitError(ConflictError):
    code = "passkey_limit_reached"
    template = "An account can have at most {limit} passkeys"


class PasskeyRegistrationInvalidError(ForbiddenError):
    """A 403, not a 401: the caller is signed in, and a 401 reads as "your session ended";
    nor a 422: the request is well-formed, the authenticator's answer is what fails."""

    code = "passkey_registration_invalid"
    template = "The new passkey could not be verified; start again"
    persist = True  # the spent challenge stays spent


class PasskeyLoginError(NotAuthenticatedError):
    """A refused passkey sign-in; what the activity log needs rides along, not in the body."""

    persist = True  # the spent challenge, the MFA step's attempt count and the log entry stay

    def __init__(self, *, passkey: Passkey | None = None, reason: str = "", **facts: Any) -> None:
        super().__init__()
        self.passkey = passkey
        self.reason = reason or self.code
        self.facts = facts


class PasskeyInvalidError(PasskeyLoginError):
    code = "passkey_invalid"
    template = "The passkey's answer could not be verified"


class PasskeyUnknownError(PasskeyLoginError):
    code = "passkey_unknown"
    template = "This passkey is not registered for this account"


class PasskeyCounterRegressionError(PasskeyLoginError):
    code = "passkey_counter_regression"
    template = "The passkey's signature counter went backwards; it may have been copied"


class PasskeyUserInactiveError(PasskeyLoginError):
    code = sessions.UserInactiveError.code
    template = sessions.UserInactiveError.template


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser must have spoken for: the RP id signed into authenticator data, and
    the origin the browser writes into clientDataJSON."""

    id: str
    name: str
    origin: str


@dataclass(frozen=True)
class NewCredential:
    """What a verified registration tells us about the new passkey."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: list[str]
    backed_up: bool


@dataclass(frozen=True)
class Ceremony:
    challenge_id: str
    options: dict[str, Any]


def relying_party(settings: Settings) -> RelyingParty:
    """The RP from configuration. An origin is scheme, host and port only (RFC 6454 §6.1),
    so any path in server.base_url is left out and a default port is not written."""
    url = settings.server.base_url
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    port = "" if url.port in (None, default_port) else f":{url.port}"
    return RelyingParty(
        id=settings.security.webauthn_rp_id,
        name=settings.security.webauthn_rp_name,
        origin=f"{url.scheme}://{url.host}{port}",
    )


def user_handle(user_id: int) -> bytes:
    """The WebAuthn user.id: stable for the account, so an authenticator replaces its old
    credential for it, and free of personal data (WebAuthn L3 §14.6.1)."""
    return user_id.to_bytes(8, "big")


def credential_hash(raw_id: bytes) -> str:
    return hashlib.sha256(raw_id).hexdigest()


def verify_registration(
    credential: dict[str, Any], *, challenge: bytes, rp: RelyingParty
) -> NewCredential:
    """Check a navigator.credentials.create() answer and that its public key is usable."""
    try:
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
        # A "none" attestation never loads the key; load it now, not at the first sign-in.
        decoded_public_key_to_cryptography(
            decode_credential_public_key(verified.credential_public_key)
        )
    except _REFUSED as exc:
        log.info("passkey registration refused", reason=str(exc))
        raise PasskeyRegistrationInvalidError from None
    # The id in authenticator data is the one the browser reports, and at most 1023 bytes
    # (WebAuthn L3 §7.1 step 23); `webauthn` checks neither.
    if verified.credential_id != parsed.raw_id or len(parsed.raw_id) > MAX_CREDENTIAL_ID:
        log.info("passkey registration refused", reason="credential id")
        raise PasskeyRegistrationInvalidError
    return NewCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        transports=list(dict.fromkeys(t.value for t in parsed.response.transports or [])),
        backed_up=verified.credential_backed_up,
    )


def verify_assertion(
    credential: dict[str, Any] | AuthenticationCredential,
    *,
    challenge: bytes,
    rp: RelyingParty,
    public_key: bytes,
    sign_count: int,
    require_user_verification: bool,
) -> VerifiedAuthentication:
    """Check a navigator.credentials.get() answer against the stored key and counter.

    When `webauthn` refuses, it is asked again without the counter: a genuine signature with a
    counter not above the stored one means a copied authenticator or a replay (WebAuthn L3
    §6.1.1), worth a security event; a forged signature is only an invalid answer.
    """

    def check(count: int) -> VerifiedAuthentication:
        return verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=count,
            require_user_verification=require_user_verification,
        )

    try:
        return check(sign_count)
    except _REFUSED as exc:
        log.info("passkey assertion refused", reason=str(exc))
    if sign_count > 0:  # with nothing stored, no counter can be behind it
        try:
            without_counter = check(0)
        except _REFUSED:
            pass
        else:
            raise PasskeyCounterRegressionError(received=without_counter.new_sign_count)
    raise PasskeyInvalidError


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
        exclude_credentials=[_descriptor(passkey) for passkey in existing],
    )
    return await _ceremony(session, REGISTER_CHALLENGE, challenge, options, user_id=user.id)


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
        ceremony = await _claim(session, REGISTER_CHALLENGE, challenge_id)
    except challenges.ChallengeInvalidError:
        raise PasskeyRegistrationInvalidError from None
    if ceremony.user_id != user.id:
        raise PasskeyRegistrationInvalidError
    new = verify_registration(credential, challenge=_challenge_bytes(ceremony), rp=rp)
    _check_limit(len(await list_passkeys(session, user.id)))
    key_hash = credential_hash(new.credential_id)
    if await _find_by_hash(session, key_hash) is not None:
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
    await _record(session, "auth.passkey_added", user.id, passkey, origin, aaguid=passkey.aaguid)
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
    await _record(session, "auth.passkey_renamed", user_id, passkey, origin, previous=previous)
    await session.flush()
    return passkey


async def remove(session: AsyncSession, user_id: int, passkey_id: int, *, origin: Origin) -> None:
    passkey = await get_passkey(session, user_id, passkey_id)
    await session.delete(passkey)
    await _record(session, "auth.passkey_removed", user_id, passkey, origin)
    await session.flush()


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
        return await _ceremony(session, AUTH_CHALLENGE, challenge, options, user_id=None)
    _step, user = await login.mfa_step(session, mfa_token)
    existing = await list_passkeys(session, user.id)
    if not existing:
        raise PasskeyUnknownError
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        allow_credentials=[_descriptor(passkey) for passkey in existing],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return await _ceremony(session, AUTH_CHALLENGE, challenge, options, user_id=user.id)


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
    ceremony = await _claim(session, AUTH_CHALLENGE, challenge_id)
    try:
        passkey, user = await _accept_assertion(
            session, ceremony, credential, owner=step[1] if step else None, rp=rp
        )
    except PasskeyLoginError as exc:
        await _record_refusal(session, exc, origin, step[0] if step else None)
        raise
    await _record(session, "auth.passkey_login", user.id, passkey, origin, mfa=step is not None)
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
    except _REFUSED:
        raise PasskeyInvalidError(reason="malformed") from None
    passkey = await _find_by_hash(session, credential_hash(parsed.raw_id))
    if passkey is None:
        raise PasskeyUnknownError
    owner_id = owner.id if owner else ceremony.user_id
    if owner_id is not None and passkey.user_id != owner_id:
        raise PasskeyUnknownError(passkey=passkey, reason="other_user")
    try:
        verified = verify_assertion(
            parsed,
            challenge=_challenge_bytes(ceremony),
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


async def _ceremony(
    session: AsyncSession, kind: str, challenge: bytes, options: Any, *, user_id: int | None
) -> Ceremony:
    challenge_id = await challenges.create(
        session,
        kind=kind,
        ttl_seconds=CEREMONY_SECONDS,
        user_id=user_id,
        data={"challenge": bytes_to_base64url(challenge)},
    )
    return Ceremony(challenge_id=challenge_id, options=options_to_json_dict(options))


async def _claim(session: AsyncSession, kind: str, challenge_id: str) -> AuthChallenge:
    """The open challenge, marked used; of two concurrent requests only one gets it."""
    challenge = await challenges.find(session, kind=kind, raw=challenge_id)
    await challenges.consume(session, challenge)
    return challenge


def _challenge_bytes(challenge: AuthChallenge) -> bytes:
    value = challenge.data.get("challenge")
    if not isinstance(value, str):
        raise challenges.ChallengeInvalidError
    return base64url_to_bytes(value)


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    known = {t.value for t in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id),
        transports=[AuthenticatorTransport(t) for t in passkey.transports if t in known] or None,
    )


def _check_limit(count: int) -> None:
    if count >= MAX_PASSKEYS:
        raise PasskeyLimitError(limit=MAX_PASSKEYS)


async def _find_by_hash(session: AsyncSession, key_hash: str) -> Passkey | None:
    rows = await session.execute(select(Passkey).where(Passkey.credential_id_hash == key_hash))
    return rows.scalar_one_or_none()


async def _record(
    session: AsyncSession,
    action: str,
    user_id: int,
    passkey: Passkey,
    origin: Origin,
    **details: Any,
) -> None:
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
