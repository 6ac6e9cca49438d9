"""Mail domains: relay overrides, DKIM keys (stored encrypted) and the DNS records to publish."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.errors import ConflictError, InvalidInputError, NotFoundError
from oak_maillist.mail import dkim_keys
from oak_maillist.mail.dkim_keys import Algorithm, DnsRecord, KeyPair
from oak_maillist.models import Domain, MailingList
from oak_maillist.services import activity, crypto
from oak_maillist.services.activity import Origin

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SELECTOR_FIELDS = frozenset({"dkim_selector", "dkim_ed25519_selector"})
DKIM_PURPOSE = "dkim-private-key"
SMTP_PURPOSE = "smtp-password"


class DomainNotFoundError(NotFoundError):
    code = "domain_not_found"
    template = "Domain {domain_id} does not exist"


class DomainExistsError(ConflictError):
    code = "domain_exists"
    template = "Domain {name} already exists"


class DomainInUseError(ConflictError):
    code = "domain_in_use"
    template = "Domain {name} still has {lists} mailing list(s)"


class InvalidDomainError(InvalidInputError):
    code = "invalid_domain"
    template = "Not a valid domain name: {name}"


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


def normalize_domain(name: str) -> str:
    """Lowercase A-label form (IDNA) of a domain name, or InvalidDomainError."""
    candidate = name.strip().rstrip(".").lower()
    try:
        ascii_name = candidate.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidDomainError(name=name) from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidDomainError(name=name)
    return ascii_name


async def get_domain(session: AsyncSession, domain_id: int) -> Domain:
    domain = await session.get(Domain, domain_id)
    if domain is None:
        raise DomainNotFoundError(domain_id=domain_id)
    return domain


async def list_domains(session: AsyncSession) -> list[Domain]:
    return list((await session.execute(select(Domain).order_by(Domain.name))).scalars())


async def list_counts(session: AsyncSession) -> dict[int, int]:
    """Mailing lists per domain."""
    rows = await session.execute(
        select(MailingList.domain_id, func.count()).group_by(MailingList.domain_id)
    )
    return {domain_id: int(count) for domain_id, count in rows.all()}


async def list_count(session: AsyncSession, domain_id: int) -> int:
    """Mailing lists of one domain."""
    query = select(func.count()).select_from(MailingList).where(MailingList.domain_id == domain_id)
    return int((await session.execute(query)).scalar_one())


async def create_domain(
    session: AsyncSession,
    *,
    name: str,
    settings: Settings,
    actor_id: int,
    origin: Origin,
    **fields: Any,
) -> Domain:
    """Create a domain with a fresh RSA DKIM key, so mail from it is signed from the start."""
    normalized = normalize_domain(name)
    domain = Domain(name=normalized)
    _apply(domain, fields, settings)
    _set_key(domain, dkim_keys.generate(Algorithm.RSA_SHA256), settings)
    try:
        async with session.begin_nested():  # a savepoint: a conflict leaves the request usable
            session.add(domain)
            await session.flush()
    except IntegrityError:
        raise DomainExistsError(name=normalized) from None
    await activity.record(
        session,
        "domain.created",
        actor_id=actor_id,
        origin=origin,
        target_type="domain",
        target_id=domain.id,
        name=normalized,
    )
    return domain


async def update_domain(
    session: AsyncSession,
    domain: Domain,
    *,
    settings: Settings,
    actor_id: int,
    origin: Origin,
    **fields: Any,
) -> Domain:
    changed = _apply(domain, fields, settings)
    await session.flush()
    if changed:
        await activity.record(
            session,
            "domain.updated",
            actor_id=actor_id,
            origin=origin,
            target_type="domain",
            target_id=domain.id,
            changed=sorted(changed),
        )
    return domain


def _apply(domain: Domain, fields: dict[str, Any], settings: Settings) -> set[str]:
    changed = set()
    for name, value in fields.items():
        if value is None:
            continue
        if name == "smtp_password":
            domain.smtp_password_encrypted = (
                crypto.encrypt(value, settings.security, purpose=SMTP_PURPOSE) if value else None
            )
        else:
            if name in _SELECTOR_FIELDS and not _SELECTOR.match(value):
                raise InvalidSelectorError(selector=value)
            setattr(domain, name, value)
        changed.add(name)
    _check_dual(domain)
    return changed


def _check_dual(domain: Domain) -> None:
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


def _set_key(
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
    actor_id: int,
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
        field = "dkim_ed25519_selector" if slot is KeySlot.ED25519 else "dkim_selector"
        _apply(domain, {field: selector}, settings)
    if private_key_pem is not None:
        try:
            pair = dkim_keys.import_pem(private_key_pem)
        except dkim_keys.KeyImportError as exc:
            raise InvalidDkimKeyError(reason=str(exc)) from None
        if slot is KeySlot.ED25519 and pair.algorithm is not Algorithm.ED25519_SHA256:
            raise InvalidDkimKeyError(reason="the second DKIM key must be an Ed25519 key")
    else:
        pair = dkim_keys.generate(algorithm or Algorithm.RSA_SHA256)
    _set_key(domain, pair, settings, slot)
    _check_dual(domain)
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


def dns_records(domain: Domain, settings: Settings) -> list[DnsRecord]:
    """Exactly what to publish: the DKIM key (and the Ed25519 one while it signs), plus SPF
    and DMARC suggestions."""
    records = []
    if domain.dkim_public_key:
        records.append(
            dkim_keys.dkim_record(
                domain.name,
                domain.dkim_selector,
                Algorithm(domain.dkim_algorithm),
                domain.dkim_public_key,
            )
        )
    if domain.dkim_ed25519_enabled and domain.dkim_ed25519_public_key:
        records.append(
            dkim_keys.dkim_record(
                domain.name,
                domain.dkim_ed25519_selector,
                Algorithm.ED25519_SHA256,
                domain.dkim_ed25519_public_key,
            )
        )
    relay = domain.smtp_host or settings.smtp.outgoing.host
    records.append(dkim_keys.spf_record(domain.name, relay))
    records.append(dkim_keys.dmarc_record(domain.name))
    return records


async def delete_domain(
    session: AsyncSession, domain: Domain, *, actor_id: int, origin: Origin
) -> None:
    """Only a domain without lists can go; lists and their archives are never deleted this way."""
    lists = await list_count(session, domain.id)
    if lists:
        raise DomainInUseError(name=domain.name, lists=lists)
    await activity.record(
        session,
        "domain.deleted",
        actor_id=actor_id,
        origin=origin,
        target_type="domain",
        target_id=domain.id,
        name=domain.name,
    )
    await session.delete(domain)
    await session.flush()
