"""Helpers that create rows with sensible defaults."""

from __future__ import annotations

import itertools

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import SecuritySettings
from oak_maillist.models import Domain, MailingList, Message, SystemRole, User
from oak_maillist.services import users
from oak_maillist.services.archive import id_hash

_counter = itertools.count(1)


def message_row(list_id: int, message_id: str, **fields: object) -> Message:
    """An archived post's row (not added to a session), keyed by its Message-ID as the
    archive keys it."""
    return Message(
        list_id=list_id, message_id=message_id, message_id_hash=id_hash(message_id), **fields
    )


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


DEFAULT_PASSWORD = "correct horse battery staple"


async def make_user(
    session: AsyncSession,
    settings: SecuritySettings,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    role: SystemRole = SystemRole.USER,
    **fields: object,
) -> User:
    user = await users.create_user(
        session,
        email=email or f"user{next(_counter)}@example.org",
        password=password,
        settings=settings,
        role=role,
    )
    for name, value in fields.items():
        setattr(user, name, value)
    await session.flush()
    return user


async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str = DEFAULT_PASSWORD,
    user_agent: str = "pytest",
) -> dict[str, str]:
    """Sign in over HTTP; returns the Authorization header (fails the test on MFA)."""
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "access_token" in body, body
    return {"Authorization": f"Bearer {body['access_token']}"}
