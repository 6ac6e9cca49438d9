"""Mail the service sends on its own behalf: stored first, then handed to the relay by a job.

The row is the work: a job that never runs (lost hand-off, crash) only delays the mail until
the sweeper finds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.delivery import relay
from oak_maillist.delivery.relay import Outcome, RelayConfig
from oak_maillist.logging import get_logger
from oak_maillist.metrics import DELIVERIES
from oak_maillist.models import Delivery, DeliveryStatus, Domain, MailingList, OutboundMessage

__all__ = ["OutboundMessage", "queue"]
from oak_maillist.services import crypto
from oak_maillist.services.domains import SMTP_PURPOSE
from oak_maillist.tasks.queue import enqueue_after_commit

log = get_logger(__name__)
SEND_JOB = "outbound.send"
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)


async def queue(
    session: AsyncSession,
    message: EmailMessage,
    *,
    kind: str,
    sender: str,
    recipient: str,
    list_id: int | None = None,
    hand_off: bool = True,
) -> OutboundMessage:
    """Store a composed message for delivery (handed to the send job after commit)."""
    return await queue_raw(
        session,
        message.as_string(),
        kind=kind,
        sender=sender,
        recipient=recipient,
        list_id=list_id,
        hand_off=hand_off,
    )


async def queue_raw(
    session: AsyncSession,
    data: str,
    *,
    kind: str,
    sender: str,
    recipient: str,
    list_id: int | None = None,
    hand_off: bool = True,
) -> OutboundMessage:
    """Store an encoded message for delivery; the send job gets it once the session commits
    (`hand_off=False` leaves it to the sweeper, as a crash right after the commit would)."""
    row = OutboundMessage(kind=kind, sender=sender, recipient=recipient, list_id=list_id, raw=data)
    session.add(row)
    await session.flush()
    if hand_off:
        enqueue_after_commit(session, SEND_JOB, outbound_id=row.id)
    return row


def claimable(model: type[OutboundMessage] | type[Delivery], now: datetime) -> ColumnElement[bool]:
    """Rows nobody holds: queued, deferred, or held by a worker whose lease ran out."""
    return or_(
        model.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED)),
        (model.status == DeliveryStatus.SENDING) & (model.lease_until < now),
    )


async def sent_since(
    session: AsyncSession, *, recipient: str, kinds: Iterable[str], since: datetime
) -> int:
    """How many messages of these kinds were queued for `recipient` since a moment."""
    count = await session.scalar(
        select(func.count(OutboundMessage.id)).where(
            OutboundMessage.recipient == recipient,
            OutboundMessage.kind.in_(list(kinds)),
            OutboundMessage.created_at >= since,
        )
    )
    return count or 0


async def claim(
    session: AsyncSession, outbound_id: int, *, lease: timedelta
) -> OutboundMessage | None:
    """Take the row for sending if it is due and nobody holds it (compare-and-set on status)."""
    now = utcnow()
    claimed = await session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == outbound_id,
            OutboundMessage.next_attempt_at <= now,
            claimable(OutboundMessage, now),
        )
        .values(
            status=DeliveryStatus.SENDING,
            lease_until=now + lease,
            attempts=OutboundMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return None
    return await session.get(OutboundMessage, outbound_id, populate_existing=True)


async def relay_for(session: AsyncSession, list_id: int | None, settings: Settings) -> RelayConfig:
    """The list's domain relay when it has one, else the global smtp.outgoing."""
    config = RelayConfig.from_settings(settings.smtp.outgoing)
    if list_id is None:
        return config
    domain = (
        await session.execute(
            select(Domain)
            .join(MailingList, MailingList.domain_id == Domain.id)
            .where(MailingList.id == list_id)
        )
    ).scalar_one_or_none()
    if domain is None or not domain.smtp_host:
        return config
    password = (
        crypto.decrypt(domain.smtp_password_encrypted, settings.security, purpose=SMTP_PURPOSE)
        if domain.smtp_password_encrypted
        else ""
    )
    return RelayConfig(
        host=domain.smtp_host,
        port=domain.smtp_port or config.port,
        security=domain.smtp_security,
        username=domain.smtp_username,
        password=password,
        timeout_seconds=config.timeout_seconds,
    )


@dataclass(frozen=True)
class Attempt:
    status: DeliveryStatus
    code: int | None
    reply: str


def next_retry(
    attempts: int, created_at: datetime, now: datetime, settings: Settings
) -> datetime | None:
    """Exponential backoff from one minute up to six hours; None once the retry period is over."""
    delay = min(FIRST_RETRY * (2 ** min(attempts - 1, 16)), LONGEST_RETRY)
    give_up = created_at + timedelta(hours=settings.smtp.outgoing.retry_period_hours)
    return None if now + delay > give_up else now + delay


def record(row: OutboundMessage | Delivery, result: relay.Result, settings: Settings) -> Attempt:
    """Apply one relay answer to the row: sent, deferred with a retry time, or failed."""
    now = utcnow()
    row.last_code = result.code
    row.last_reply = result.reply[:2000]
    row.lease_until = None
    if result.outcome is Outcome.SENT:
        row.status, row.sent_at = DeliveryStatus.SENT, now
    elif result.outcome is Outcome.PERMANENT:
        row.status = DeliveryStatus.FAILED
    else:
        retry = next_retry(row.attempts, row.created_at, now, settings)
        row.status = DeliveryStatus.DEFERRED if retry else DeliveryStatus.FAILED
        row.next_attempt_at = retry or now
    DELIVERIES.labels(str(row.status)).inc()
    log.info(
        "outbound_attempt",
        table=row.__tablename__,
        row_id=row.id,
        kind=row.kind,
        status=str(row.status),
        code=result.code,
        attempts=row.attempts,
    )
    return Attempt(DeliveryStatus(row.status), result.code, row.last_reply)


async def due_ids(session: AsyncSession, *, limit: int = 500) -> list[int]:
    """Rows the sweeper should hand out again: due and not held, or held past their lease."""
    now = utcnow()
    rows = await session.execute(
        select(OutboundMessage.id)
        .where(
            OutboundMessage.next_attempt_at <= now,
            claimable(OutboundMessage, now),
        )
        .order_by(OutboundMessage.next_attempt_at)
        .limit(limit)
    )
    return list(rows.scalars())
