"""Users: administration by admins, and each user's own profile and password."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, status

from oak_maillist.api.deps import (
    AdminUser,
    CurrentUser,
    IdPath,
    OriginDep,
    PageDep,
    SessionDep,
    SettingsDep,
)
from oak_maillist.api.v1.schemas.auth import UserOut
from oak_maillist.api.v1.schemas.common import NO_CONTROL_CHARS, Page
from oak_maillist.api.v1.schemas.users import (
    InvitationCreate,
    InvitationOut,
    PasswordChange,
    PasswordChanged,
    ProfileUpdate,
    UserCreate,
    UserUpdate,
)
from oak_maillist.models import SystemRole
from oak_maillist.services import activity, registration, users

router = APIRouter(prefix="/users", tags=["users"])


@router.get("")
async def list_users(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(max_length=320, pattern=NO_CONTROL_CHARS, description="Search address or name"),
    ] = None,
    role: Annotated[SystemRole | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> Page[UserOut]:
    rows, total = await users.list_users(
        session, offset=page.offset, limit=page.per_page, query=q, role=role, is_active=is_active
    )
    return Page(
        items=[UserOut.model_validate(row) for row in rows],
        total=total,
        page=page.page,
        per_page=page.per_page,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> UserOut:
    user = await users.create_user(
        session,
        email=body.email,
        password=body.password,
        settings=settings.security,
        display_name=body.display_name,
        language=body.language,
        role=SystemRole(body.role),
    )
    user.email_verified = True
    await activity.record(
        session,
        "user.created",
        actor_id=admin.user.id,
        origin=origin,
        target_type="user",
        target_id=user.id,
        role=body.role,
    )
    return UserOut.model_validate(user)


@router.post("/invitations", status_code=status.HTTP_201_CREATED)
async def invite_user(
    body: InvitationCreate,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> InvitationOut:
    """An invitation link for invite-only registration (valid 7 days, single use)."""
    invitation, token = await registration.invite(
        session, email=body.email, role=SystemRole(body.role), actor_id=admin.user.id, origin=origin
    )
    url = f"{settings.server.public_url}/register?invitation={quote(token)}"
    return InvitationOut(
        id=invitation.id,
        email=invitation.email_normalized,
        role=invitation.role,
        expires_at=invitation.expires_at,
        invite_url=url,
    )


@router.get("/me")
async def get_profile(principal: CurrentUser) -> UserOut:
    return UserOut.model_validate(principal.user)


@router.patch("/me")
async def update_profile(
    body: ProfileUpdate, principal: CurrentUser, session: SessionDep, origin: OriginDep
) -> UserOut:
    user = await users.update_user(
        session,
        principal.user,
        actor=principal.user,
        origin=origin,
        display_name=body.display_name,
        language=body.language,
    )
    return UserOut.model_validate(user)


@router.post("/me/password")
async def change_password(
    body: PasswordChange,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> PasswordChanged:
    """Needs the current password; every other session of the user ends."""
    ended = await users.change_password(
        session,
        principal.user,
        current=body.current_password,
        new=body.new_password,
        settings=settings.security,
        keep_session_id=principal.session.id,
        origin=origin,
    )
    return PasswordChanged(other_sessions_revoked=ended)


@router.get("/{user_id}")
async def get_user(user_id: IdPath, _admin: AdminUser, session: SessionDep) -> UserOut:
    return UserOut.model_validate(await users.get_user(session, user_id))


@router.patch("/{user_id}")
async def update_user(
    user_id: IdPath, body: UserUpdate, admin: AdminUser, session: SessionDep, origin: OriginDep
) -> UserOut:
    """Change name, language, role or active state; the last administrator stays one."""
    user = await users.get_user(session, user_id)
    updated = await users.update_user(
        session,
        user,
        actor=admin.user,
        origin=origin,
        display_name=body.display_name,
        language=body.language,
        role=SystemRole(body.role) if body.role else None,
        is_active=body.is_active,
    )
    return UserOut.model_validate(updated)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: IdPath, admin: AdminUser, session: SessionDep, origin: OriginDep
) -> None:
    await users.delete_user(
        session, await users.get_user(session, user_id), actor=admin.user, origin=origin
    )
