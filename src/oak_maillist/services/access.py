"""The one checked way to reach a protected list: not-found and forbidden look the same."""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.errors import ForbiddenError, NotAuthenticatedError, NotFoundError
from oak_maillist.models import (
    ListRole,
    ListRoleName,
    MailingList,
    Subscriber,
    SubscriberStatus,
    SystemRole,
    User,
)


class Need(enum.IntEnum):
    """What a caller needs on a list, weakest first; each level includes those below it."""

    READ = 0  # anyone may read a public list's public parts
    MODERATOR = 1
    OWNER = 2
    ADMIN = 3


class ListNotFoundError(NotFoundError):
    code = "list_not_found"
    template = "Mailing list {list_id} does not exist"


async def list_level(session: AsyncSession, list_id: int, user: User | None) -> Need | None:
    """The highest level `user` holds on a list (None: no role)."""
    if user is None:
        return None
    if user.role == SystemRole.ADMIN:
        return Need.ADMIN
    roles = set(
        (
            await session.execute(
                select(ListRole.role).where(
                    ListRole.list_id == list_id, ListRole.user_id == user.id
                )
            )
        ).scalars()
    )
    if ListRoleName.OWNER in roles:
        return Need.OWNER
    if ListRoleName.MODERATOR in roles:
        return Need.MODERATOR
    return None


async def access_list(
    session: AsyncSession, list_id: int, user: User | None, *, need: Need
) -> MailingList:
    """The list, if `user` holds at least `need` on it.

    A private list is 404 to anyone without a role on it, so its existence never leaks; a
    visible list answers 403 when the role is too weak (a moderator changing settings).
    """
    mlist = await session.get(MailingList, list_id)
    if mlist is None:
        raise ListNotFoundError(list_id=list_id)
    level = await list_level(session, list_id, user)
    if level is None and mlist.visibility != "public":
        raise ListNotFoundError(list_id=list_id)  # a private list does not exist for strangers
    if need > Need.READ and (level is None or level < need):
        raise ForbiddenError
    return mlist


async def managed_list_ids(session: AsyncSession, user: User, *, need: Need) -> list[int] | None:
    """Ids of the lists `user` holds `need` on; None means every list (an administrator)."""
    if user.role == SystemRole.ADMIN:
        return None
    roles = (
        [ListRoleName.OWNER] if need >= Need.OWNER else [ListRoleName.OWNER, ListRoleName.MODERATOR]
    )
    return list(
        (
            await session.execute(
                select(ListRole.list_id)
                .where(ListRole.user_id == user.id, ListRole.role.in_(roles))
                .distinct()
            )
        ).scalars()
    )


class ArchiveClosedError(NotFoundError):
    code = "archive_disabled"
    template = "This list keeps no archive"


async def _is_subscriber(session: AsyncSession, list_id: int, user: User) -> bool:
    found = await session.scalar(
        select(Subscriber.id)
        .where(
            Subscriber.list_id == list_id,
            Subscriber.email_normalized == user.email_normalized,
            Subscriber.status == SubscriberStatus.ACTIVE,
        )
        .limit(1)
    )
    return found is not None


async def readable_archive(
    session: AsyncSession, list_id: int, user: User | None, *, archiving: bool
) -> MailingList:
    """The list whose archive `user` may read (None: anonymous).

    A public list with a public archive is open to everyone; otherwise readers are its
    active subscribers (by their account's address), moderators, owners and administrators.
    A private list stays invisible (404) to everyone else; `archiving` is archive.enabled.
    """
    mlist = await session.get(MailingList, list_id)
    if mlist is None:
        raise ListNotFoundError(list_id=list_id)
    level = await list_level(session, list_id, user)
    member = level is not None or (
        user is not None and await _is_subscriber(session, list_id, user)
    )
    if not member and mlist.visibility != "public":
        raise ListNotFoundError(list_id=list_id)
    if not archiving or not mlist.archive_enabled:
        raise ArchiveClosedError
    if member or (mlist.archive_public and mlist.visibility == "public"):
        return mlist
    if user is None:
        raise NotAuthenticatedError
    raise ForbiddenError
