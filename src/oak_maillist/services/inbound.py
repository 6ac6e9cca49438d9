"""Incoming mail at the SMTP edge: which recipients exist, and storing what was accepted."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.mail.addresses import ListAddress, candidate_readings
from oak_maillist.models import Domain, InboundMessage, MailingList


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
    return message.id
