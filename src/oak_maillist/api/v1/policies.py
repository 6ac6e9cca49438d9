"""Sender policies: whitelist and blacklist rules per list (owners) and global (admins)."""

from __future__ import annotations

from fastapi import APIRouter, status

from oak_maillist.api.deps import (
    AdminUser,
    CurrentUser,
    IdPath,
    ModeratedList,
    OriginDep,
    OwnedList,
    SessionDep,
)
from oak_maillist.api.v1.schemas.policies import PolicyCreate, PolicyOrder, PolicyOut, PolicyUpdate
from oak_maillist.errors import ForbiddenError, NotFoundError
from oak_maillist.models import SenderPolicy
from oak_maillist.services import policies
from oak_maillist.services.access import Need, access_list

router = APIRouter(tags=["policies"])


def _out(policy: SenderPolicy) -> PolicyOut:
    return PolicyOut.model_validate(policy, from_attributes=True)


@router.get("/lists/{list_id}/policies")
async def list_policies(mlist: ModeratedList, session: SessionDep) -> list[PolicyOut]:
    """The list's rules in the order they are read (before the global rules)."""
    return [_out(p) for p in await policies.list_policies(session, mlist.id)]


@router.post("/lists/{list_id}/policies", status_code=status.HTTP_201_CREATED)
async def create_list_policy(
    body: PolicyCreate,
    mlist: OwnedList,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> PolicyOut:
    policy = await policies.create(
        session, list_id=mlist.id, actor_id=principal.user.id, origin=origin, **body.model_dump()
    )
    return _out(policy)


@router.put("/lists/{list_id}/policies/order")
async def reorder_list_policies(
    body: PolicyOrder,
    mlist: OwnedList,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> list[PolicyOut]:
    rules = await policies.reorder(
        session, mlist.id, body.ids, actor_id=principal.user.id, origin=origin
    )
    return [_out(p) for p in rules]


@router.get("/policies")
async def list_global_policies(_admin: AdminUser, session: SessionDep) -> list[PolicyOut]:
    """Global rules, read after each list's own."""
    return [_out(p) for p in await policies.list_policies(session, None)]


@router.post("/policies", status_code=status.HTTP_201_CREATED)
async def create_global_policy(
    body: PolicyCreate, admin: AdminUser, session: SessionDep, origin: OriginDep
) -> PolicyOut:
    policy = await policies.create(
        session, list_id=None, actor_id=admin.user.id, origin=origin, **body.model_dump()
    )
    return _out(policy)


@router.put("/policies/order")
async def reorder_global_policies(
    body: PolicyOrder, admin: AdminUser, session: SessionDep, origin: OriginDep
) -> list[PolicyOut]:
    rules = await policies.reorder(session, None, body.ids, actor_id=admin.user.id, origin=origin)
    return [_out(p) for p in rules]


async def _reachable(
    session: SessionDep, principal: CurrentUser, policy_id: int, *, need: Need
) -> SenderPolicy:
    """A rule, if the caller may see (moderators) or change (owners) its list's rules."""
    policy = await policies.get(session, policy_id)
    if policy.list_id is None:
        if not principal.is_admin:
            raise policies.PolicyNotFoundError(policy_id=policy_id)
        return policy
    try:
        await access_list(session, policy.list_id, principal.user, need=need)
    except ForbiddenError:
        if need == Need.OWNER:
            raise
        raise policies.PolicyNotFoundError(policy_id=policy_id) from None
    except NotFoundError:
        raise policies.PolicyNotFoundError(policy_id=policy_id) from None
    return policy


@router.get("/policies/{policy_id}")
async def get_policy(policy_id: IdPath, principal: CurrentUser, session: SessionDep) -> PolicyOut:
    return _out(await _reachable(session, principal, policy_id, need=Need.MODERATOR))


@router.patch("/policies/{policy_id}")
async def update_policy(
    policy_id: IdPath,
    body: PolicyUpdate,
    principal: CurrentUser,
    session: SessionDep,
    origin: OriginDep,
) -> PolicyOut:
    policy = await _reachable(session, principal, policy_id, need=Need.OWNER)
    await policies.update(
        session,
        policy,
        actor_id=principal.user.id,
        origin=origin,
        **body.model_dump(exclude_unset=True),
    )
    return _out(policy)


@router.delete("/policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_policy(
    policy_id: IdPath, principal: CurrentUser, session: SessionDep, origin: OriginDep
) -> None:
    policy = await _reachable(session, principal, policy_id, need=Need.OWNER)
    await policies.delete(session, policy, actor_id=principal.user.id, origin=origin)
