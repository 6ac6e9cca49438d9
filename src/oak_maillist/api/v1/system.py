"""Public facts about this installation that the web app needs before sign-in."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from oak_maillist import __version__
from oak_maillist.api.deps import SessionDep, SettingsDep
from oak_maillist.services import system_settings

router = APIRouter(tags=["system"])


class SystemInfo(BaseModel):
    name: str
    version: str
    base_url: str
    languages: list[str]
    webauthn_rp_id: str
    site_name: str
    # open, invite (by invitation only) or closed: whether the web app offers to register.
    registration_mode: str
    password_min_length: int


@router.get("/system/info")
async def system_info(settings: SettingsDep, session: SessionDep) -> SystemInfo:
    stored = await system_settings.load(session)
    return SystemInfo(
        name="Oak Maillist",
        site_name=stored.site_name,
        registration_mode=stored.registration_mode,
        password_min_length=settings.security.password_min_length,
        version=__version__,
        base_url=settings.server.public_url,
        languages=["en", "zh-CN"],
        webauthn_rp_id=settings.security.webauthn_rp_id,
    )
