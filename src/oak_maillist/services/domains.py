"""Mail domains: relay overrides and the DNS records to publish (DKIM keys: domain_keys)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.errors import ConflictError, InvalidInputError, NotFoundError
from oak_maillist.mail import dkim_keys
from oak_maillist.mail.dkim_keys import Algorithm, DnsRecord
from oak_maillist.models import Domain, MailingList
from oak_maillist.services import activity, crypto, domain_keys
from oak_maillist.services.activity import Origin

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SELECTOR_FIELDS = frozenset({"dkim_selector", "dkim_ed25519_selector"})
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
    domain_keys.set_key(domain, dkim_keys.generate(Algorithm.RSA_SHA256), settings)
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
            if name in _SELECTOR_FIELDS:
                domain_keys.check_selector(value)
            setattr(domain, name, value)
        changed.add(name)
    domain_keys.check_dual(domain)
    return changed


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
