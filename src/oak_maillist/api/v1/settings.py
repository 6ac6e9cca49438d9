"""Runtime settings stored in the database (administrators only)."""

from __future__ import annotations

from fastapi import APIRouter

from oak_maillist.api.deps import AdminUser, OriginDep, SessionDep
from oak_maillist.api.v1.schemas.settings import SettingsOut, SettingsUpdate
from oak_maillist.services import activity, system_settings

router = APIRouter(prefix="/settings", tags=["settings"])


@router.get("")
async def get_settings(_admin: AdminUser, session: SessionDep) -> SettingsOut:
    return SettingsOut.model_validate((await system_settings.load(session)).model_dump())


@router.patch("")
async def update_settings(
    body: SettingsUpdate, admin: AdminUser, session: SessionDep, origin: OriginDep
) -> SettingsOut:
    """Change any subset; `list_defaults` too may be given in part."""
    changes = {
        key: value for key, value in body.model_dump(exclude_none=True).items() if value != {}
    }
    updated = await system_settings.update(session, changes, actor_id=admin.user.id)
    if changes:
        await activity.record(
            session,
            "settings.updated",
            actor_id=admin.user.id,
            origin=origin,
            target_type="settings",
            changes=changes,
        )
    return SettingsOut.model_validate(updated.model_dump())
