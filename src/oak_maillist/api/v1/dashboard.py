"""Dashboard: counts and growth for the people who run the lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oak_maillist.api.deps import MAX_ID, CurrentUser, SessionDep
from oak_maillist.api.v1.schemas.dashboard import DashboardOut
from oak_maillist.services import dashboard

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("")
async def get_dashboard(
    principal: CurrentUser,
    session: SessionDep,
    days: Annotated[
        int, Query(ge=1, le=dashboard.MAX_DAYS, description="Days of growth, today included")
    ] = 30,
    list_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this list (owned or moderated)")
    ] = None,
) -> DashboardOut:
    """Totals and day-by-day growth: every list for administrators, else the caller's own
    (owned or moderated) lists."""
    found = await dashboard.dashboard(session, principal.user, days=days, list_id=list_id)
    return DashboardOut.model_validate(found)
