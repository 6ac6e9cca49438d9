"""Where a post stands with its recipients, and the bounces that came back (moderators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oak_maillist.api.deps import IdPath, ModeratedList, OwnedList, PageDep, SessionDep
from oak_maillist.api.v1.schemas.common import Page
from oak_maillist.api.v1.schemas.deliveries import (
    BounceOut,
    DeliveryOut,
    DeliveryReport,
    RetryIn,
    RetryOut,
)
from oak_maillist.models import DeliveryStatus
from oak_maillist.services import archive_reading, bounces, delivery_status

router = APIRouter(prefix="/lists/{list_id}", tags=["deliveries"])


@router.get("/messages/{message_id}/deliveries")
async def post_deliveries(
    mlist: ModeratedList,
    message_id: IdPath,
    session: SessionDep,
    page: PageDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> DeliveryReport:
    message = await archive_reading.get_message(session, mlist.id, message_id)
    rows, total = await delivery_status.list_deliveries(
        session, message.id, status=status, offset=page.offset, limit=page.per_page
    )
    return DeliveryReport(
        counts=await delivery_status.status_counts(session, message.id),
        total=total,
        items=[DeliveryOut.model_validate(row, from_attributes=True) for row in rows],
        page=page.page,
        per_page=page.per_page,
    )


@router.post("/messages/{message_id}/deliveries/retry")
async def retry_deliveries(
    mlist: OwnedList, message_id: IdPath, session: SessionDep, body: RetryIn | None = None
) -> RetryOut:
    """Send a post's failed and deferred deliveries again now (owners): all of them, or the
    ones named. Recipients who left the list since are skipped."""
    message = await archive_reading.get_message(session, mlist.id, message_id)
    ids = body.delivery_ids if body is not None else None
    return RetryOut(queued=await delivery_status.retry(session, message.id, ids))


@router.get("/bounces")
async def list_bounces(mlist: ModeratedList, session: SessionDep, page: PageDep) -> Page[BounceOut]:
    """Bounces received for the list's deliveries, newest first."""
    rows, total = await bounces.list_bounces(
        session, mlist.id, offset=page.offset, limit=page.per_page
    )
    items = [BounceOut.model_validate(row, from_attributes=True) for row in rows]
    return Page(items=items, total=total, page=page.page, per_page=page.per_page)
