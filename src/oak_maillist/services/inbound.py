"""Incoming mail at the SMTP edge: which recipients exist, and storing what was accepted."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.mail.addresses import ListAddress, candidate_readings
from oak_maillist.models import Domain, InboundMessage, InboundStatus, MailingList
from oak_maillist.tasks.queue import enqueue_after_commit

PROCESS_JOB = "inbound.process"
# After this many failed attempts a message is parked as failed for an administrator.
MAX_ATTEMPTS = 5
# A freshly stored message is handed to the broker at once; the sweeper waits this long
# before it hands it out again (the hand-off was lost, or the process died).
SWEEP_GRACE = timedelta(seconds=30)


class RecipientStatus(enum.StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such list or sub-address
    INACTIVE = "inactive"  # the list exists but is deactivated


@dataclass(frozen=True)
class Recipient:
    status: RecipientStatus
    address: ListAddress | None = None
    list_id: int | None = None
    max_message_size: int | None = None


async def resolve_recipient(session: AsyncSession, address: str) -> Recipient:
    """Find the list behind `address`, preferring the most literal reading."""
    readings = candidate_readings(address)
    if not readings:
        return Recipient(RecipientStatus.UNKNOWN)
    rows = (
        await session.execute(
            select(
                MailingList.id,
                MailingList.local_part,
                MailingList.is_active,
                MailingList.max_message_size,
                Domain.is_active,
            )
            .join(Domain, Domain.id == MailingList.domain_id)
            .where(
                Domain.name == readings[0].domain,
                MailingList.local_part.in_({reading.local_part for reading in readings}),
            )
        )
    ).all()
    by_local = {row[1]: row for row in rows}
    for reading in readings:
        row = by_local.get(reading.local_part)
        if row is None:
            continue
        list_id, _local, list_active, max_size, domain_active = row
        if not (list_active and domain_active):
            return Recipient(RecipientStatus.INACTIVE, reading, list_id)
        return Recipient(RecipientStatus.OK, reading, list_id, max_size)
    return Recipient(RecipientStatus.UNKNOWN)


async def accept(
    session: AsyncSession,
    *,
    raw: bytes,
    envelope_from: str,
    recipients: list[str],
    peer: str = "",
    helo: str = "",
) -> int:
    """Store a message exactly as received; the caller commits before answering 250."""
    message = InboundMessage(
        raw=raw,
        size=len(raw),
        envelope_from=envelope_from[:320],
        recipients=recipients,
        peer=peer[:100],
        helo=helo[:255],
    )
    session.add(message)
    await session.flush()
    enqueue_after_commit(session, PROCESS_JOB, inbound_id=message.id)
    return message.id


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        InboundMessage.status == InboundStatus.RECEIVED,
        (InboundMessage.status == InboundStatus.PROCESSING) & (InboundMessage.lease_until < now),
    )


async def claim(session: AsyncSession, inbound_id: int, *, lease: timedelta) -> bool:
    """Take a stored message for processing unless another worker holds it (compare-and-set)."""
    now = utcnow()
    claimed = await session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, _claimable(now))
        .values(
            status=InboundStatus.PROCESSING,
            lease_until=now + lease,
            attempts=InboundMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return getattr(claimed, "rowcount", 0) == 1


async def record_failure(session: AsyncSession, inbound_id: int, error: str) -> InboundStatus:
    """Processing raised: try again later, or park the message after MAX_ATTEMPTS."""
    row = await session.get(InboundMessage, inbound_id, populate_existing=True)
    if row is None:
        return InboundStatus.FAILED
    row.error = error[:4000]
    row.lease_until = None
    row.status = InboundStatus.FAILED if row.attempts >= MAX_ATTEMPTS else InboundStatus.RECEIVED
    return InboundStatus(row.status)


async def due_ids(
    session: AsyncSession, *, grace: timedelta | None = None, limit: int = 500
) -> list[int]:
    """Stored messages nobody is processing: new ones past the grace time, expired leases."""
    now = utcnow()
    grace = SWEEP_GRACE if grace is None else grace
    rows = await session.scalars(
        select(InboundMessage.id)
        .where(
            or_(
                (InboundMessage.status == InboundStatus.RECEIVED)
                & (InboundMessage.received_at <= now - grace),
                (InboundMessage.status == InboundStatus.PROCESSING)
                & (InboundMessage.lease_until < now),
            )
        )
        .order_by(InboundMessage.id)
        .limit(limit)
    )
    return list(rows)
