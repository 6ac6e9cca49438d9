"""Mailing lists: creation, settings, deactivation, visibility, counts, owners and moderators."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from oak_maillist.mail.addresses import Role
from oak_maillist.models import (
    Domain,
    HeldMessage,
    HeldStatus,
    ListRole,
    ListRoleName,
    MailingList,
    Message,
    Subscriber,
    SubscriberStatus,
    SystemRole,
    User,
    Visibility,
)
from oak_maillist.services import activity, system_settings
from oak_maillist.services.activity import Origin
from oak_maillist.services.domains import get_domain

_LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
# A list may not be named like another list's sub-address (dev-request would shadow dev's).
RESERVED_SUFFIXES = tuple(f"-{role.value}" for role in Role if role is not Role.POST)


class InvalidLocalPartError(InvalidInputError):
    code = "invalid_list_address"
    template = "Not a valid list name: {local_part} ({reason})"


class ListExistsError(ConflictError):
    code = "list_exists"
    template = "The list {address} already exists"


class InvalidListSettingError(InvalidInputError):
    code = "invalid_list_setting"
    template = "{field}: {reason}"


class ReactivateNeedsAdminError(ForbiddenError):
    code = "reactivate_needs_admin"
    template = "Only an administrator can reactivate a list"


class LastOwnerError(ConflictError):
    code = "last_owner"
    template = "A list keeps at least one owner; only an administrator may remove the last one"


class RoleNotFoundError(NotFoundError):
    code = "list_role_not_found"
    template = "That user has no {role} role on this list"


@dataclass(frozen=True)
class ListCounts:
    subscribers: int = 0
    messages: int = 0
    pending_moderation: int = 0


def check_local_part(local_part: str) -> str:
    value = local_part.strip().lower()
    if not _LOCAL_PART.match(value):
        raise InvalidLocalPartError(
            local_part=local_part, reason="letters, digits, '.', '_' and '-' only, at most 64"
        )
    if value.endswith(RESERVED_SUFFIXES):
        raise InvalidLocalPartError(
            local_part=local_part, reason=f"may not end with {', '.join(RESERVED_SUFFIXES)}"
        )
    return value


def _check_settings(fields: dict[str, Any]) -> None:
    if fields.get("reply_to_mode") == "address" and not fields.get("reply_to_address"):
        raise InvalidListSettingError(
            field="reply_to_address", reason="required when reply_to_mode is 'address'"
        )


async def address_of(session: AsyncSession, mlist: MailingList) -> str:
    domain = await session.get(Domain, mlist.domain_id)
    return f"{mlist.local_part}@{domain.name if domain else '?'}"


async def create_list(
    session: AsyncSession,
    *,
    domain_id: int,
    local_part: str,
    actor: User,
    origin: Origin,
    owner_ids: list[int] | None = None,
    **fields: Any,
) -> MailingList:
    """A new active list; the creator and any given users become its owners.

    Settings not in `fields` take the site's defaults for new lists (system_settings).
    """
    domain = await get_domain(session, domain_id)
    local = check_local_part(local_part)
    defaults = (await system_settings.load(session)).list_defaults.model_dump(mode="json")
    fields = defaults | fields
    _check_settings(fields)
    address = f"{local}@{domain.name}"
    mlist = MailingList(domain_id=domain.id, local_part=local, **fields)
    try:
        async with session.begin_nested():  # a savepoint: the conflict leaves the request usable
            session.add(mlist)
            await session.flush()
    except IntegrityError:
        raise ListExistsError(address=address) from None
    for user_id in {actor.id, *(owner_ids or [])}:
        await _add_role(session, mlist.id, user_id, ListRoleName.OWNER)
    await activity.record(
        session,
        "list.created",
        actor_id=actor.id,
        origin=origin,
        target_type="list",
        target_id=mlist.id,
        list_id=mlist.id,
        address=address,
    )
    return mlist


async def update_list(
    session: AsyncSession, mlist: MailingList, *, actor: User, origin: Origin, **fields: Any
) -> MailingList:
    """Change settings; reactivating a list is for administrators."""
    if fields.get("is_active") is True and not mlist.is_active and actor.role != SystemRole.ADMIN:
        raise ReactivateNeedsAdminError
    merged = {"reply_to_mode": mlist.reply_to_mode, "reply_to_address": mlist.reply_to_address}
    _check_settings(merged | fields)
    changed = {name: value for name, value in fields.items() if getattr(mlist, name) != value}
    for name, value in changed.items():
        setattr(mlist, name, value)
    await session.flush()
    if changed:
        await activity.record(
            session,
            "list.updated",
            actor_id=actor.id,
            origin=origin,
            target_type="list",
            target_id=mlist.id,
            list_id=mlist.id,
            changed=sorted(changed),
        )
    return mlist


async def deactivate_list(
    session: AsyncSession, mlist: MailingList, *, actor: User, origin: Origin
) -> None:
    """The list stops accepting mail; subscribers, archive and settings stay."""
    mlist.is_active = False
    await session.flush()
    await activity.record(
        session,
        "list.deactivated",
        actor_id=actor.id,
        origin=origin,
        target_type="list",
        target_id=mlist.id,
        list_id=mlist.id,
    )


async def visible_lists(
    session: AsyncSession,
    user: User | None,
    *,
    offset: int,
    limit: int,
    query: str | None = None,
) -> tuple[list[MailingList], int]:
    """Lists the caller may see: all for admins; public active ones and their own otherwise."""
    statement = select(MailingList)
    if user is None or user.role != SystemRole.ADMIN:
        public = (MailingList.visibility == Visibility.PUBLIC) & MailingList.is_active.is_(True)
        if user is None:
            statement = statement.where(public)
        else:
            mine = select(ListRole.list_id).where(ListRole.user_id == user.id)
            statement = statement.where(or_(public, MailingList.id.in_(mine)))
    if query:
        needle = query.lower()
        statement = statement.where(
            or_(
                MailingList.local_part.contains(needle, autoescape=True),
                func.lower(MailingList.name).contains(needle, autoescape=True),
            )
        )
    total = (
        await session.execute(select(func.count()).select_from(statement.subquery()))
    ).scalar_one()
    rows = await session.execute(
        statement.order_by(MailingList.local_part, MailingList.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def counts(session: AsyncSession, list_ids: list[int]) -> dict[int, ListCounts]:
    """Active subscribers, archived messages and pending held posts, for many lists at once."""
    if not list_ids:
        return {}
    queries = {
        "subscribers": select(Subscriber.list_id, func.count()).where(
            Subscriber.list_id.in_(list_ids), Subscriber.status == SubscriberStatus.ACTIVE
        ),
        "messages": select(Message.list_id, func.count()).where(Message.list_id.in_(list_ids)),
        "pending_moderation": select(HeldMessage.list_id, func.count()).where(
            HeldMessage.list_id.in_(list_ids), HeldMessage.status == HeldStatus.PENDING
        ),
    }
    found: dict[int, dict[str, int]] = {list_id: {} for list_id in list_ids}
    for name, query in queries.items():
        for list_id, count in (
            await session.execute(query.group_by(query.selected_columns[0]))
        ).all():
            found[list_id][name] = int(count)
    return {list_id: ListCounts(**values) for list_id, values in found.items()}


async def roles(session: AsyncSession, list_id: int) -> list[tuple[ListRole, User]]:
    rows = await session.execute(
        select(ListRole, User)
        .join(User, User.id == ListRole.user_id)
        .where(ListRole.list_id == list_id)
        .order_by(ListRole.role, User.email_normalized)
    )
    return [(role, user) for role, user in rows.all()]


async def _add_role(
    session: AsyncSession, list_id: int, user_id: int, role: ListRoleName
) -> ListRole:
    existing = (
        await session.execute(
            select(ListRole).where(
                ListRole.list_id == list_id, ListRole.user_id == user_id, ListRole.role == role
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    entry = ListRole(list_id=list_id, user_id=user_id, role=role)
    session.add(entry)
    await session.flush()
    return entry


async def grant_role(
    session: AsyncSession,
    mlist: MailingList,
    user: User,
    role: ListRoleName,
    *,
    actor: User,
    origin: Origin,
) -> ListRole:
    entry = await _add_role(session, mlist.id, user.id, role)
    await activity.record(
        session,
        "list.role_granted",
        actor_id=actor.id,
        origin=origin,
        target_type="user",
        target_id=user.id,
        list_id=mlist.id,
        role=str(role),
    )
    return entry


async def revoke_role(
    session: AsyncSession,
    mlist: MailingList,
    user_id: int,
    role: ListRoleName,
    *,
    actor: User,
    origin: Origin,
) -> None:
    entry = (
        await session.execute(
            select(ListRole).where(
                ListRole.list_id == mlist.id, ListRole.user_id == user_id, ListRole.role == role
            )
        )
    ).scalar_one_or_none()
    if entry is None:
        raise RoleNotFoundError(role=str(role))
    if role == ListRoleName.OWNER and actor.role != SystemRole.ADMIN:
        owners = (
            await session.execute(
                select(func.count())
                .select_from(ListRole)
                .where(ListRole.list_id == mlist.id, ListRole.role == ListRoleName.OWNER)
            )
        ).scalar_one()
        if owners <= 1:
            raise LastOwnerError
    await session.delete(entry)
    await session.flush()
    await activity.record(
        session,
        "list.role_revoked",
        actor_id=actor.id,
        origin=origin,
        target_type="user",
        target_id=user_id,
        list_id=mlist.id,
        role=str(role),
    )


async def caller_roles(
    session: AsyncSession, list_ids: list[int], user: User | None
) -> dict[int, str | None]:
    """ "admin", "owner", "moderator" or None per list, in one query, for the web app."""
    if user is None or not list_ids:
        return dict.fromkeys(list_ids)
    if user.role == SystemRole.ADMIN:
        return dict.fromkeys(list_ids, "admin")
    rows = await session.execute(
        select(ListRole.list_id, ListRole.role).where(
            ListRole.user_id == user.id, ListRole.list_id.in_(list_ids)
        )
    )
    held: dict[int, set[str]] = {}
    for list_id, role in rows.all():
        held.setdefault(list_id, set()).add(role)
    found: dict[int, str | None] = {}
    for list_id in list_ids:
        roles = held.get(list_id, set())
        found[list_id] = (
            "owner"
            if ListRoleName.OWNER in roles
            else "moderator"
            if ListRoleName.MODERATOR in roles
            else None
        )
    return found
