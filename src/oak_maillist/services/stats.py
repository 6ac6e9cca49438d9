"""Counts of work waiting in the database, for metrics."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import (
    Delivery,
    DeliveryStatus,
    HeldMessage,
    HeldStatus,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
)


async def queue_depths(session: AsyncSession) -> dict[str, int]:
    """Inbound messages not yet processed, deliveries not yet done, posts held for moderators."""
    waiting = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)
    queries = {
        "inbound": select(func.count())
        .select_from(InboundMessage)
        .where(InboundMessage.status.in_((InboundStatus.RECEIVED, InboundStatus.PROCESSING))),
        "delivery": select(func.count()).select_from(Delivery).where(Delivery.status.in_(waiting)),
        "outbound": select(func.count())
        .select_from(OutboundMessage)
        .where(OutboundMessage.status.in_(waiting)),
        "moderation": select(func.count())
        .select_from(HeldMessage)
        .where(HeldMessage.status == HeldStatus.PENDING),
    }
    return {
        kind: int((await session.execute(query)).scalar_one()) for kind, query in queries.items()
    }
