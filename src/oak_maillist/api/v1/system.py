"""Public facts about this installation that the web app needs before sign-in."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from oak_maillist import __version__
from oak_maillist.api.deps import SettingsDep

router = APIRouter(tags=["system"])


class SystemInfo(BaseModel):
    name: str
    version: str
    base_url: str
    languages: list[str]
    webauthn_rp_id: str


@router.get("/system/info")
async def system_info(settings: SettingsDep) -> SystemInfo:
    return SystemInfo(
        name="Oak Maillist",
        version=__version__,
        base_url=settings.server.public_url,
        languages=["en", "zh-CN"],
        webauthn_rp_id=settings.security.webauthn_rp_id,
    )
