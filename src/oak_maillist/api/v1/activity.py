"""The activity log, for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oak_maillist.api.deps import MAX_ID, AdminUser, PageDep, SessionDep
from oak_maillist.api.v1.schemas.common import NO_CONTROL_CHARS, Page
from oak_maillist.api.v1.schemas.users import ActivityOut
from oak_maillist.services import activity

router = APIRouter(prefix="/activity", tags=["activity"])


@router.get("")
async def list_activity(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    action: Annotated[
        str | None,
        Query(max_length=100, pattern=NO_CONTROL_CHARS, description="Action prefix, e.g. auth."),
    ] = None,
    actor_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[ActivityOut]:
    rows, total = await activity.list_entries(
        session, offset=page.offset, limit=page.per_page, action=action, actor_id=actor_id
    )
    return Page(
        items=[ActivityOut.model_validate(row) for row in rows],
        total=total,
        page=page.page,
        per_page=page.per_page,
    )
