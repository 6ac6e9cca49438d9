"""Where a post stands with its recipients: rows and counts by status, and sending again
what failed or waits for a retry (an owner fixed the relay, say)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.models import Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from oak_maillist.services.distribution import POST_JOB
from oak_maillist.tasks.queue import enqueue_after_commit

RETRYABLE = (DeliveryStatus.FAILED, DeliveryStatus.DEFERRED)


async def list_deliveries(
    session: AsyncSession,
    message_id: int,
    *,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Delivery], int]:
    conditions = [Delivery.message_id == message_id]
    if status:
        conditions.append(Delivery.status == status)
    total = await session.scalar(select(func.count(Delivery.id)).where(*conditions)) or 0
    rows = await session.scalars(
        select(Delivery).where(*conditions).order_by(Delivery.id).offset(offset).limit(limit)
    )
    return list(rows), total


async def status_counts(session: AsyncSession, message_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Delivery.status, func.count(Delivery.id))
        .where(Delivery.message_id == message_id)
        .group_by(Delivery.status)
    )
    return {str(status): int(count) for status, count in rows.all()}


async def retry(session: AsyncSession, message_id: int, delivery_ids: list[int] | None) -> int:
    """Queue a post's failed and deferred deliveries to go out now (all of them, or those of
    `delivery_ids`), for subscribers still subscribed; returns how many. Sent and bounced
    deliveries stay as they are."""
    still_subscribed = select(Subscriber.id).where(
        Subscriber.id == Delivery.subscriber_id, Subscriber.status == SubscriberStatus.ACTIVE
    )
    conditions = [
        Delivery.message_id == message_id,
        Delivery.status.in_(RETRYABLE),
        still_subscribed.exists(),
    ]
    if delivery_ids is not None:
        conditions.append(Delivery.id.in_(delivery_ids))
    result = await session.execute(
        update(Delivery)
        .where(*conditions)
        .values(status=DeliveryStatus.QUEUED, next_attempt_at=utcnow(), lease_until=None)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0))
    if count:
        enqueue_after_commit(session, POST_JOB, message_id=message_id)
    return count
