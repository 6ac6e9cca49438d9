"""Mailing lists: listing, creation, settings, deactivation, owners and moderators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.api.deps import (
    OPTIONAL_AUTH,
    AdminUser,
    CurrentUser,
    IdPath,
    ModeratedList,
    OptionalUser,
    OriginDep,
    OwnedList,
    PageDep,
    ReadableList,
    SessionDep,
)
from oak_maillist.api.v1.schemas.common import NO_CONTROL_CHARS, Page
from oak_maillist.api.v1.schemas.lists import (
    ListCountsOut,
    ListCreate,
    ListOut,
    ListRoleIn,
    ListRoleOut,
    ListUpdate,
)
from oak_maillist.models import Domain, ListRoleName, MailingList, User
from oak_maillist.services import lists, users

router = APIRouter(prefix="/lists", tags=["lists"])


async def lists_out(
    session: AsyncSession, rows: list[MailingList], user: User | None
) -> list[ListOut]:
    domain_ids = {row.domain_id for row in rows}
    domains = (
        {
            d.id: d.name
            for d in (
                await session.execute(select(Domain).where(Domain.id.in_(domain_ids)))
            ).scalars()
        }
        if domain_ids
        else {}
    )
    counts = await lists.counts(session, [row.id for row in rows])
    roles = await lists.caller_roles(session, [row.id for row in rows], user)
    out = []
    for row in rows:
        fields: dict[str, Any] = {
            name: getattr(row, name)
            for name in ListOut.model_fields
            if hasattr(row, name) and name not in ("counts",)
        }
        out.append(
            ListOut(
                **fields,
                address=f"{row.local_part}@{domains.get(row.domain_id, '?')}",
                counts=ListCountsOut(**vars(counts[row.id])),
                my_role=roles[row.id],  # type: ignore[arg-type]
            )
        )
    return out


@router.get("", openapi_extra=OPTIONAL_AUTH)
async def list_lists(
    principal: OptionalUser,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_CONTROL_CHARS, description="Search name or address"),
    ] = None,
) -> Page[ListOut]:
    """Lists the caller may see: public ones for everyone, their own, all for administrators."""
    user = principal.user if principal else None
    rows, total = await lists.visible_lists(
        session, user, offset=page.offset, limit=page.per_page, query=q
    )
    return Page(
        items=await lists_out(session, rows, user),
        total=total,
        page=page.page,
        per_page=page.per_page,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_list(
    body: ListCreate, admin: AdminUser, session: SessionDep, origin: OriginDep
) -> ListOut:
    """A new list; settings left out take the site's defaults for new lists (administrators)."""
    fields = body.model_dump(exclude={"domain_id", "local_part", "owner_ids"}, exclude_none=True)
    for owner_id in body.owner_ids:
        await users.get_user(session, owner_id)
    mlist = await lists.create_list(
        session,
        domain_id=body.domain_id,
        local_part=body.local_part,
        owner_ids=body.owner_ids,
        actor=admin.user,
        origin=origin,
        **fields,
    )
    return (await lists_out(session, [mlist], admin.user))[0]


@router.get("/{list_id}", openapi_extra=OPTIONAL_AUTH)
async def get_list(mlist: ReadableList, principal: OptionalUser, session: SessionDep) -> ListOut:
    return (await lists_out(session, [mlist], principal.user if principal else None))[0]


@router.put("/{list_id}")
async def update_list(
    mlist: OwnedList,
    body: ListUpdate,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> ListOut:
    """Change any subset of settings (owners and administrators)."""
    await lists.update_list(
        session,
        mlist,
        actor=principal.user,
        origin=origin,
        **body.model_dump(exclude_unset=True, exclude_none=True),
    )
    return (await lists_out(session, [mlist], principal.user))[0]


@router.delete("/{list_id}", status_code=status.HTTP_204_NO_CONTENT)
async def deactivate_list(
    mlist: OwnedList, principal: CurrentUser, session: SessionDep, origin: OriginDep
) -> None:
    """Deactivate: the list refuses new mail; nothing is deleted, an admin can reactivate."""
    await lists.deactivate_list(session, mlist, actor=principal.user, origin=origin)


@router.get("/{list_id}/roles")
async def list_roles(mlist: ModeratedList, session: SessionDep) -> list[ListRoleOut]:
    return [
        ListRoleOut.model_validate(
            {
                "user_id": user.id,
                "email": user.email,
                "display_name": user.display_name,
                "role": role.role,
            }
        )
        for role, user in await lists.roles(session, mlist.id)
    ]


@router.post("/{list_id}/roles", status_code=status.HTTP_201_CREATED)
async def grant_role(
    mlist: OwnedList,
    body: ListRoleIn,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> ListRoleOut:
    """Make a registered user an owner or moderator of the list."""
    user = await users.find_user_by_email(session, body.email)
    if user is None:
        raise users.UserNotFoundError(user_id=body.email)
    await lists.grant_role(
        session, mlist, user, ListRoleName(body.role), actor=principal.user, origin=origin
    )
    return ListRoleOut(
        user_id=user.id, email=user.email, display_name=user.display_name, role=body.role
    )


@router.delete("/{list_id}/roles/{role}/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_role(
    mlist: OwnedList,
    role: ListRoleName,
    user_id: IdPath,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> None:
    await lists.revoke_role(session, mlist, user_id, role, actor=principal.user, origin=origin)
