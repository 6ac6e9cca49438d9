"""The WebAuthn protocol for passkeys: the relying party, and checking what authenticators answer.

No database here: these functions take the browser's JSON and the stored key and counter, ask
`webauthn` to verify, and turn every refusal into one of our errors. Registration and management
live in passkeys; sign-in lives in passkey_login.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from webauthn import verify_authentication_response, verify_registration_response
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AuthenticationCredential

from oak_maillist.config import Settings
from oak_maillist.errors import ForbiddenError, NotAuthenticatedError
from oak_maillist.logging import get_logger
from oak_maillist.models import Passkey
from oak_maillist.services.auth import sessions

log = get_logger(__name__)

MAX_CREDENTIAL_ID = 1023
# What `webauthn` raises on hostile input besides its own errors: its CBOR and COSE parsing
# indexes into attacker-supplied structures (KeyError, IndexError, TypeError), and
# `cryptography` refuses points off the curve with ValueError.
REFUSED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError)


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
    except REFUSED as exc:
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
    except REFUSED as exc:
        log.info("passkey assertion refused", reason=str(exc))
    if sign_count > 0:  # with nothing stored, no counter can be behind it
        try:
            without_counter = check(0)
        except REFUSED:
            pass
        else:
            raise PasskeyCounterRegressionError(received=without_counter.new_sign_count)
    raise PasskeyInvalidError
