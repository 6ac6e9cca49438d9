"""First run: create the first administrator while none exists."""

from __future__ import annotations

from fastapi import APIRouter, status

from oak_maillist.api.deps import LimiterDep, OriginDep, SessionDep, SettingsDep
from oak_maillist.api.v1.auth import token_out
from oak_maillist.api.v1.schemas.auth import SetupIn, SetupStatusOut, TokenOut
from oak_maillist.services import registration

router = APIRouter(prefix="/setup", tags=["setup"])


@router.get("/status")
async def setup_status(session: SessionDep) -> SetupStatusOut:
    return SetupStatusOut(setup_required=await registration.setup_required(session))


@router.post("", status_code=status.HTTP_201_CREATED)
async def setup(
    body: SetupIn,
    session: SessionDep,
    settings: SettingsDep,
    origin: OriginDep,
    limiter: LimiterDep,
) -> TokenOut:
    """Only while no administrator exists; 404 afterwards."""
    await limiter.hit("setup_ip", origin.ip)
    return token_out(
        await registration.setup(
            session,
            email=body.email,
            password=body.password,
            display_name=body.display_name,
            language=body.language,
            settings=settings.security,
            origin=origin,
        )
    )
