"""A domain's DKIM keys: made or imported, stored encrypted, and the ones delivery signs with.

A domain has a main key (RSA or Ed25519) and, beside an RSA main key, optionally a second,
Ed25519 key under its own selector, so that every copy carries both signatures (RFC 8463).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.errors import ConflictError, InvalidInputError
from oak_maillist.mail import dkim_keys
from oak_maillist.mail.dkim_keys import Algorithm, KeyPair
from oak_maillist.models import Domain
from oak_maillist.services import activity, crypto
from oak_maillist.services.activity import Origin

DKIM_PURPOSE = "dkim-private-key"
_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class InvalidSelectorError(InvalidInputError):
    code = "invalid_dkim_selector"
    template = "Not a valid DKIM selector: {selector}"


class InvalidDkimKeyError(InvalidInputError):
    code = "invalid_dkim_key"
    template = "The DKIM key cannot be used: {reason}"


class DkimSelectorTakenError(InvalidInputError):
    code = "dkim_selector_taken"
    template = "The DKIM selector {selector} is already the other key's: each key needs its own"


class DkimDualSigningError(ConflictError):
    code = "dkim_dual_signing_conflict"
    template = "Domain {name}: {reason}"


class KeySlot(enum.StrEnum):
    """Which of a domain's DKIM keys: the main one, or the Ed25519 one signing beside it."""

    MAIN = "main"
    ED25519 = "ed25519"


@dataclass(frozen=True)
class SigningKey:
    selector: str
    algorithm: Algorithm
    private_key: str  # decrypted, as `mail.dkim_keys` makes it


def check_selector(selector: str) -> None:
    """A selector is one DNS label (RFC 6376 §3.1), in lower case."""
    if not _SELECTOR.match(selector):
        raise InvalidSelectorError(selector=selector)


def check_dual(domain: Domain) -> None:
    """The Ed25519 key signs beside an RSA main key (RFC 8463 §3), under another selector."""
    if domain.dkim_ed25519_enabled and domain.dkim_ed25519_public_key is None:
        reason = "it has no Ed25519 DKIM key yet: generate or import one"
        raise DkimDualSigningError(name=domain.name, reason=reason)
    if domain.dkim_ed25519_enabled and domain.dkim_algorithm != Algorithm.RSA_SHA256:
        reason = "its main DKIM key is Ed25519 already; a second Ed25519 signature needs RSA"
        raise DkimDualSigningError(name=domain.name, reason=reason)
    if domain.dkim_ed25519_public_key is not None and (
        domain.dkim_selector == domain.dkim_ed25519_selector
    ):
        raise DkimSelectorTakenError(selector=domain.dkim_selector)


def set_key(
    domain: Domain, pair: KeyPair, settings: Settings, slot: KeySlot = KeySlot.MAIN
) -> None:
    encrypted = crypto.encrypt(pair.private_key, settings.security, purpose=DKIM_PURPOSE)
    if slot is KeySlot.ED25519:
        domain.dkim_ed25519_private_key_encrypted = encrypted
        domain.dkim_ed25519_public_key = pair.public_key
        domain.dkim_ed25519_enabled = True
        return
    domain.dkim_algorithm = pair.algorithm
    domain.dkim_private_key_encrypted = encrypted
    domain.dkim_public_key = pair.public_key
    domain.dkim_enabled = True


async def replace_dkim_key(
    session: AsyncSession,
    domain: Domain,
    *,
    settings: Settings,
    actor_id: int | None,
    origin: Origin,
    algorithm: Algorithm | None = None,
    private_key_pem: str | None = None,
    selector: str | None = None,
    slot: KeySlot = KeySlot.MAIN,
) -> Domain:
    """Generate a new key pair, or import one; the private key is never shown again.

    `KeySlot.ED25519` is the second key, Ed25519 only, that signs beside an RSA main key;
    giving it a key turns that second signature on."""
    if slot is KeySlot.ED25519:
        algorithm = Algorithm.ED25519_SHA256
    if selector is not None:
        check_selector(selector)
        if slot is KeySlot.ED25519:
            domain.dkim_ed25519_selector = selector
        else:
            domain.dkim_selector = selector
    if private_key_pem is not None:
        try:
            pair = dkim_keys.import_pem(private_key_pem)
        except dkim_keys.KeyImportError as exc:
            raise InvalidDkimKeyError(reason=str(exc)) from None
        if slot is KeySlot.ED25519 and pair.algorithm is not Algorithm.ED25519_SHA256:
            raise InvalidDkimKeyError(reason="the second DKIM key must be an Ed25519 key")
    else:
        pair = dkim_keys.generate(algorithm or Algorithm.RSA_SHA256)
    set_key(domain, pair, settings, slot)
    check_dual(domain)
    await session.flush()
    await activity.record(
        session,
        "domain.dkim_key_replaced",
        actor_id=actor_id,
        origin=origin,
        target_type="domain",
        target_id=domain.id,
        algorithm=str(pair.algorithm),
        imported=private_key_pem is not None,
        key=str(slot),
    )
    return domain


def dkim_private_key(domain: Domain, settings: Settings) -> str | None:
    """The signing key for delivery (decrypted), or None when the domain has none."""
    if not domain.dkim_enabled or not domain.dkim_private_key_encrypted:
        return None
    return crypto.decrypt(
        domain.dkim_private_key_encrypted, settings.security, purpose=DKIM_PURPOSE
    )


def dkim_signing_keys(domain: Domain, settings: Settings) -> list[SigningKey]:
    """The keys delivery signs with, main first: none when DKIM is off, and the Ed25519 key
    only beside the main one (an Ed25519 signature alone fails where receivers lack it)."""
    main = dkim_private_key(domain, settings)
    if main is None:
        return []
    keys = [SigningKey(domain.dkim_selector, Algorithm(domain.dkim_algorithm), main)]
    if domain.dkim_ed25519_enabled and domain.dkim_ed25519_private_key_encrypted:
        second = crypto.decrypt(
            domain.dkim_ed25519_private_key_encrypted, settings.security, purpose=DKIM_PURPOSE
        )
        keys.append(SigningKey(domain.dkim_ed25519_selector, Algorithm.ED25519_SHA256, second))
    return keys
