"""Runtime settings stored in the database (administrators only)."""

from __future__ import annotations

from fastapi import APIRouter

from oak_maillist.api.deps import AdminUser, OriginDep, SessionDep, SettingsDep
from oak_maillist.api.v1.schemas.settings import (
    AiSettingsOut,
    AiSettingsUpdate,
    SettingsOut,
    SettingsUpdate,
)
from oak_maillist.config import AiModerationSettings
from oak_maillist.services import activity, ai_moderation, system_settings

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


def ai_settings_out(config: AiModerationSettings, overridden: list[str]) -> AiSettingsOut:
    values = config.model_dump(mode="json", exclude=set(ai_moderation.SECRETS))
    for name in ai_moderation.SECRETS:
        values[f"{name}_set"] = bool(getattr(config, name).get_secret_value())
    values.update(
        endpoint=str(config.endpoint),
        overridden=overridden,
        circuit=ai_moderation.circuit_state(config),
    )
    return AiSettingsOut.model_validate(values)


@router.get("/ai-moderation")
async def get_ai_settings(
    _admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> AiSettingsOut:
    """The AI provider and thresholds in effect (file, then run-time changes); no secrets."""
    config = await ai_moderation.effective_config(session, settings)
    return ai_settings_out(config, await ai_moderation.overridden(session))


@router.patch("/ai-moderation")
async def update_ai_settings(
    body: AiSettingsUpdate,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> AiSettingsOut:
    """Change the provider, its address, thresholds or secrets at run time."""
    changes = body.model_dump(exclude_none=True)
    config = await ai_moderation.update_config(session, settings, changes, actor_id=admin.user.id)
    if changes:
        shown = {k: ("********" if k in ai_moderation.SECRETS else v) for k, v in changes.items()}
        await activity.record(
            session,
            "settings.ai_moderation_updated",
            actor_id=admin.user.id,
            origin=origin,
            target_type="settings",
            changes=shown,
        )
    return ai_settings_out(config, await ai_moderation.overridden(session))
