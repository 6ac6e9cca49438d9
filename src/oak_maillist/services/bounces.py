"""Bounces: mail to `<list>-bounces+TOKEN` read, matched to the delivery it answers, counted.

The VERP token names the subscriber and the post, so forwarding and rewritten addresses do not
matter. Hard bounces count within a window (old ones expire); one short of the limit the
subscriber is warned, at the limit unsubscribed. Soft bounces are recorded, not counted.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.delivery.bounces import Failure, parse_bounce
from oak_maillist.logging import get_logger
from oak_maillist.mail import verp
from oak_maillist.models import (
    Bounce,
    Delivery,
    DeliveryStatus,
    InboundMessage,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from oak_maillist.services import activity, composing, outbound, processing, subscriptions
from oak_maillist.services.users import InvalidEmailError, normalize_email

log = get_logger(__name__)

HARD_BOUNCE_LIMIT = 3
# Hard bounces older than this no longer count (a mailbox that was full last season).
BOUNCE_WINDOW = timedelta(days=30)
# A bounce without a VERP token counts only for an address we mailed within this time.
PLAIN_BOUNCE_WINDOW = timedelta(days=7)
MAX_PLAIN_FAILURES = 50
NOTICE_KINDS = ("confirm", "welcome", "digest", "bounce_warning", "list_invite")


def _pick(failures: list[Failure], address: str) -> Failure | None:
    """The failure for this subscriber: by address when the report names it, else the only one."""
    for failure in failures:
        if failure.address == address.lower():
            return failure
    return failures[0] if len(failures) == 1 else None


async def handle(
    session: AsyncSession,
    settings: Settings,
    *,
    mlist: MailingList,
    inbound: InboundMessage,
    token: str,
) -> list[str]:
    """Record one bounce; returns what was done, for the inbound row's reasons."""
    if not token:
        return await _handle_plain(session, settings, mlist=mlist, inbound=inbound)
    ids = verp.decode(composing.verp_key(settings), token)
    if ids is None:
        return ["bounce token not valid: ignored"]
    subscriber = await session.get(Subscriber, ids.subscriber_id)
    if subscriber is None or subscriber.list_id != mlist.id:
        return ["bounce for an unknown subscriber: ignored"]
    report = parse_bounce(inbound.raw)
    if not report.is_bounce:
        return [f"not a bounce ({report.kind}): ignored"]
    failure = _pick(report.failures, subscriber.email)
    delivery_id = await session.scalar(
        select(Delivery.id).where(
            Delivery.message_id == ids.message_id, Delivery.subscriber_id == subscriber.id
        )
    )
    diagnostic = failure.reason if failure else ""
    if failure is None or not failure.hard:
        session.add(
            Bounce(
                list_id=mlist.id,
                subscriber_id=subscriber.id,
                delivery_id=delivery_id,
                inbound_id=inbound.id,
                recipient=subscriber.email,
                kind="soft",
                diagnostic=diagnostic[:2000],
            )
        )
        return [f"soft bounce for subscriber {subscriber.id}"]
    return [
        await record_hard(
            session,
            settings,
            mlist=mlist,
            subscriber=subscriber,
            delivery_id=delivery_id,
            inbound_id=inbound.id,
            diagnostic=diagnostic,
        )
    ]


async def _handle_plain(
    session: AsyncSession, settings: Settings, *, mlist: MailingList, inbound: InboundMessage
) -> list[str]:
    """A bounce to the plain `-bounces` address (no VERP token): the report's addresses are
    matched to the list's subscribers. Anyone can write such a report, so a hard failure only
    counts for an address we sent mail to recently; otherwise it is recorded as soft."""
    report = parse_bounce(inbound.raw)
    if not report.is_bounce:
        return [f"not a bounce ({report.kind}): ignored"]
    done: list[str] = []
    for failure in report.failures[:MAX_PLAIN_FAILURES]:
        try:
            key = normalize_email(failure.address)[1]
        except InvalidEmailError:
            done.append("bounce for an address that is not valid: ignored")
            continue
        subscriber = await subscriptions.find_subscriber(session, mlist.id, key)
        if subscriber is None:
            done.append(f"bounce for {failure.address}: not a subscriber, ignored")
            continue
        if failure.hard and await _sent_recently(session, subscriber):
            done.append(
                await record_hard(
                    session, settings, mlist=mlist, subscriber=subscriber, delivery_id=None,
                    diagnostic=failure.reason, inbound_id=inbound.id,
                )
            )  # fmt: skip
            continue
        session.add(
            Bounce(
                list_id=mlist.id, subscriber_id=subscriber.id, inbound_id=inbound.id,
                recipient=subscriber.email, kind="soft", diagnostic=failure.reason[:2000],
            )
        )  # fmt: skip
        done.append(f"soft bounce for subscriber {subscriber.id}")
    return done or ["bounce names no address: ignored"]


async def _sent_recently(session: AsyncSession, subscriber: Subscriber) -> bool:
    since = utcnow() - PLAIN_BOUNCE_WINDOW
    delivered = await session.scalar(
        select(Delivery.id)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.created_at >= since)
        .limit(1)
    )
    if delivered is not None:
        return True
    notified = await outbound.sent_since(
        session, recipient=subscriber.email, kinds=NOTICE_KINDS, since=since
    )
    return notified > 0


async def record_hard(
    session: AsyncSession,
    settings: Settings,
    *,
    mlist: MailingList,
    subscriber: Subscriber,
    delivery_id: int | None,
    diagnostic: str,
    inbound_id: int | None = None,
) -> str:
    """Count one hard bounce (a bounce message, or a relay's 5xx): warn one short of the limit,
    unsubscribe at it and tell the owners. Returns what was done."""
    now = utcnow()
    session.add(
        Bounce(
            list_id=mlist.id,
            subscriber_id=subscriber.id,
            delivery_id=delivery_id,
            inbound_id=inbound_id,
            recipient=subscriber.email,
            kind="hard",
            diagnostic=diagnostic[:2000],
            received_at=now,
        )
    )
    if delivery_id is not None:
        await session.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(status=DeliveryStatus.BOUNCED)
        )
    await session.flush()
    count = await session.scalar(
        select(func.count(Bounce.id)).where(
            Bounce.subscriber_id == subscriber.id,
            Bounce.kind == "hard",
            Bounce.received_at >= now - BOUNCE_WINDOW,
        )
    )
    subscriber.bounce_score, subscriber.last_bounce_at = count or 0, now
    if subscriber.status != SubscriberStatus.ACTIVE:
        return f"hard bounce {count} for subscriber {subscriber.id} (not active)"
    if subscriber.bounce_score >= HARD_BOUNCE_LIMIT:
        await _bounce_out(session, settings, mlist, subscriber)
        return f"hard bounce {count}: subscriber {subscriber.id} unsubscribed"
    if subscriber.bounce_score == HARD_BOUNCE_LIMIT - 1:
        # The warning goes to the address that bounces: it may still reach a person (a full
        # mailbox emptied, a filter fixed), and costs nothing when it does not.
        await subscriptions.send_mail(
            session,
            mlist,
            template="bounce_warning",
            recipient=subscriber.email,
            language=subscriber.language,
            settings=settings,
            address=subscriber.email,
            bounce_count=subscriber.bounce_score,
            threshold=HARD_BOUNCE_LIMIT,
        )
        return f"hard bounce {count}: subscriber {subscriber.id} warned"
    return f"hard bounce {count} for subscriber {subscriber.id}"


async def _bounce_out(
    session: AsyncSession, settings: Settings, mlist: MailingList, subscriber: Subscriber
) -> None:
    subscriber.status, subscriber.unsubscribed_at = SubscriberStatus.UNSUBSCRIBED, utcnow()
    await activity.record(
        session,
        "subscriber.bounced_out",
        actor_id=None,
        target_type="subscriber",
        target_id=subscriber.id,
        list_id=mlist.id,
        bounces=subscriber.bounce_score,
    )
    log.info("subscriber_bounced_out", list_id=mlist.id, subscriber_id=subscriber.id)
    diagnostics = list(
        await session.scalars(
            select(Bounce.diagnostic)
            .where(Bounce.subscriber_id == subscriber.id, Bounce.kind == "hard")
            .order_by(Bounce.id.desc())
            .limit(HARD_BOUNCE_LIMIT)
        )
    )
    for owner in await processing.owners(session, mlist.id):
        await subscriptions.send_mail(
            session,
            mlist,
            template="bounce_notice",
            recipient=owner.email,
            language=owner.language,
            settings=settings,
            address=subscriber.email,
            bounce_count=subscriber.bounce_score,
            diagnostics=[d for d in diagnostics if d],
            bounces_url=f"{settings.server.public_url}/lists/{mlist.id}/bounces",
        )


async def list_bounces(
    session: AsyncSession, list_id: int, *, offset: int, limit: int
) -> tuple[list[Bounce], int]:
    total = await session.scalar(select(func.count(Bounce.id)).where(Bounce.list_id == list_id))
    rows = await session.scalars(
        select(Bounce)
        .where(Bounce.list_id == list_id)
        .order_by(Bounce.received_at.desc(), Bounce.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total or 0
