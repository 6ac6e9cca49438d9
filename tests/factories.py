"""Async helpers that create rows with sensible defaults."""

from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import Domain, MailingList

_counter = itertools.count(1)


async def make_domain(session: AsyncSession, name: str | None = None, **fields: object) -> Domain:
    domain = Domain(name=name or f"d{next(_counter)}.example.org", **fields)
    session.add(domain)
    await session.flush()
    return domain


async def make_list(
    session: AsyncSession,
    domain: Domain | None = None,
    local_part: str | None = None,
    **fields: object,
) -> MailingList:
    domain = domain or await make_domain(session)
    local = local_part or f"list{next(_counter)}"
    mlist = MailingList(
        domain_id=domain.id, local_part=local, name=fields.pop("name", local), **fields
    )
    session.add(mlist)
    await session.flush()
    return mlist
