"""Runtime settings kept in the database and edited by administrators."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.models import SystemSetting

RegistrationMode = Literal["open", "invite", "closed"]


class SystemSettings(BaseModel):
    """Every runtime setting with its default; unknown keys in the database are ignored."""

    registration_mode: RegistrationMode = "open"
    site_name: str = Field(default="Oak Maillist", min_length=1, max_length=100)
    default_language: Literal["en", "zh-CN"] = "en"


async def load(session: AsyncSession) -> SystemSettings:
    rows = (await session.execute(select(SystemSetting))).scalars().all()
    stored = {row.key: row.value for row in rows if row.key in SystemSettings.model_fields}
    return SystemSettings.model_validate(stored)


async def update(
    session: AsyncSession, changes: dict[str, Any], *, actor_id: int | None
) -> SystemSettings:
    """Validate and store changed keys; returns the settings after the change."""
    merged = (await load(session)).model_dump() | changes
    valid = SystemSettings.model_validate(merged)
    for key in changes:
        row = await session.get(SystemSetting, key)
        value = getattr(valid, key)
        if row is None:
            session.add(SystemSetting(key=key, value=value, updated_by_id=actor_id))
        else:
            row.value = value
            row.updated_by_id = actor_id
            row.updated_at = utcnow()
    await session.flush()
    return valid
