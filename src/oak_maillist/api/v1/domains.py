"""Domains (administrators): relay overrides, DKIM keys and DNS records."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.api.deps import AdminUser, IdPath, OriginDep, SessionDep, SettingsDep
from oak_maillist.api.v1.schemas.domains import (
    DkimEd25519KeyIn,
    DkimKeyIn,
    DnsRecordOut,
    DomainCreate,
    DomainOut,
    DomainUpdate,
)
from oak_maillist.config import Settings
from oak_maillist.mail.dkim_keys import Algorithm
from oak_maillist.models import Domain
from oak_maillist.services import domain_keys, domains
from oak_maillist.services.activity import Origin
from oak_maillist.services.domain_keys import KeySlot

router = APIRouter(prefix="/domains", tags=["domains"])


def domain_out(domain: Domain, list_count: int, settings: Settings) -> DomainOut:
    records = [
        DnsRecordOut(type=r.type, name=r.name, value=r.value, purpose=r.purpose)  # type: ignore[arg-type]
        for r in domains.dns_records(domain, settings)
    ]
    return DomainOut(
        id=domain.id,
        name=domain.name,
        description=domain.description,
        is_active=domain.is_active,
        smtp_host=domain.smtp_host,
        smtp_port=domain.smtp_port,
        smtp_security=domain.smtp_security,
        smtp_username=domain.smtp_username,
        smtp_password_set=domain.smtp_password_encrypted is not None,
        dkim_enabled=domain.dkim_enabled,
        dkim_selector=domain.dkim_selector,
        dkim_algorithm=domain.dkim_algorithm,
        dkim_public_key=domain.dkim_public_key,
        dkim_ed25519_enabled=domain.dkim_ed25519_enabled,
        dkim_ed25519_selector=domain.dkim_ed25519_selector,
        dkim_ed25519_public_key=domain.dkim_ed25519_public_key,
        list_count=list_count,
        dns_records=records,
        created_at=domain.created_at,
        updated_at=domain.updated_at,
    )


async def _answer(session: AsyncSession, domain: Domain, settings: Settings) -> DomainOut:
    return domain_out(domain, await domains.list_count(session, domain.id), settings)


@router.get("")
async def list_domains(
    _admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> list[DomainOut]:
    counts = await domains.list_counts(session)
    return [
        domain_out(domain, counts.get(domain.id, 0), settings)
        for domain in await domains.list_domains(session)
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_domain(
    body: DomainCreate,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> DomainOut:
    """A new domain gets an RSA-2048 DKIM key at once; publish the records it lists."""
    fields = body.model_dump(exclude={"name"})
    domain = await domains.create_domain(
        session, name=body.name, settings=settings, actor_id=admin.user.id, origin=origin, **fields
    )
    return domain_out(domain, 0, settings)


@router.get("/{domain_id}")
async def get_domain(
    domain_id: IdPath, _admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> DomainOut:
    domain = await domains.get_domain(session, domain_id)
    return await _answer(session, domain, settings)


@router.patch("/{domain_id}")
async def update_domain(
    domain_id: IdPath,
    body: DomainUpdate,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> DomainOut:
    domain = await domains.get_domain(session, domain_id)
    await domains.update_domain(
        session,
        domain,
        settings=settings,
        actor_id=admin.user.id,
        origin=origin,
        **body.model_dump(exclude_unset=True),
    )
    return await _answer(session, domain, settings)


@router.post("/{domain_id}/dkim")
async def replace_dkim_key(
    domain_id: IdPath,
    body: DkimKeyIn,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> DomainOut:
    """Generate (RSA 2048 or Ed25519) or import a DKIM key; the private key is never returned."""
    return await _replace_key(
        session, settings, domain_id, body, admin.user.id, origin, algorithm=body.algorithm
    )


@router.post("/{domain_id}/dkim/ed25519")
async def replace_dkim_ed25519_key(
    domain_id: IdPath,
    body: DkimEd25519KeyIn,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> DomainOut:
    """Sign with an Ed25519 key beside the RSA main key (RFC 8463 §3): generate or import it.
    Turn that signature off and on again with PATCH `dkim_ed25519_enabled`."""
    return await _replace_key(
        session, settings, domain_id, body, admin.user.id, origin, slot=KeySlot.ED25519
    )


async def _replace_key(
    session: AsyncSession,
    settings: Settings,
    domain_id: int,
    body: DkimKeyIn | DkimEd25519KeyIn,
    actor_id: int,
    origin: Origin,
    *,
    algorithm: Algorithm | None = None,
    slot: KeySlot = KeySlot.MAIN,
) -> DomainOut:
    domain = await domains.get_domain(session, domain_id)
    await domain_keys.replace_dkim_key(
        session,
        domain,
        settings=settings,
        actor_id=actor_id,
        origin=origin,
        algorithm=algorithm,
        private_key_pem=body.private_key_pem,
        selector=body.selector,
        slot=slot,
    )
    return await _answer(session, domain, settings)


@router.delete("/{domain_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_domain(
    domain_id: IdPath, admin: AdminUser, session: SessionDep, origin: OriginDep
) -> None:
    domain = await domains.get_domain(session, domain_id)
    await domains.delete_domain(session, domain, actor_id=admin.user.id, origin=origin)
