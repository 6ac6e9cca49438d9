"""Subscribers of a list: listing, owner changes, approving requests, the CSV export.

The CSV import is in csv_import; joining by mail and invitations in subscriptions, invitations.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import ConflictError, NotFoundError
from oak_maillist.models import (
    DigestFormat,
    DigestMode,
    MailingList,
    Subscriber,
    SubscriberStatus,
    User,
)
from oak_maillist.services import activity, subscriptions
from oak_maillist.services.activity import Origin
from oak_maillist.services.subscriber_csv import neutralise
from oak_maillist.services.users import normalize_email

EXPORT_BATCH_SIZE = 2000
EXPORT_COLUMNS = ("email", "name", "digest_mode", "status", "subscribed_at")
# Statuses in which the address receives (or, disabled, is held from) the list's mail.
SUBSCRIBED = frozenset({SubscriberStatus.ACTIVE, SubscriberStatus.DISABLED})


class SubscriberNotFoundError(NotFoundError):
    code = "subscriber_not_found"
    template = "Subscriber {subscriber_id} is not on this list"


class RequestNotFoundError(NotFoundError):
    code = "subscription_request_not_found"
    template = "Subscriber {subscriber_id} is not waiting for approval on this list"


class SubscriberExistsError(ConflictError):
    code = "subscriber_exists"
    template = "{email} is already on this list"


def _filters(
    list_id: int,
    *,
    query: str | None = None,
    status: str | None = None,
    digest_mode: str | None = None,
) -> list[ColumnElement[bool]]:
    conditions = [Subscriber.list_id == list_id]
    if query:
        needle = query.lower()
        conditions.append(
            or_(
                Subscriber.email_normalized.contains(needle, autoescape=True),
                func.lower(Subscriber.name).contains(needle, autoescape=True),
            )
        )
    if status:
        conditions.append(Subscriber.status == status)
    if digest_mode:
        conditions.append(Subscriber.digest_mode == digest_mode)
    return conditions


async def list_subscribers(
    session: AsyncSession,
    *,
    list_id: int,
    offset: int,
    limit: int,
    query: str | None = None,
    status: str | None = None,
    digest_mode: str | None = None,
) -> tuple[list[Subscriber], int]:
    """A page ordered by address, and the total matching; `query` searches address and name."""
    conditions = _filters(list_id, query=query, status=status, digest_mode=digest_mode)
    count = select(func.count()).select_from(Subscriber).where(*conditions)
    total = (await session.execute(count)).scalar_one()
    # email_normalized is unique per list: the (list_id, email_normalized) index gives the order.
    page = (
        select(Subscriber)
        .where(*conditions)
        .order_by(Subscriber.email_normalized)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(page)).scalars()), int(total)


async def get_subscriber(session: AsyncSession, *, list_id: int, subscriber_id: int) -> Subscriber:
    """The subscriber, if it belongs to the list; another list's subscriber is not found."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.list_id != list_id:
        raise SubscriberNotFoundError(subscriber_id=subscriber_id)
    return subscriber


def _set_status(subscriber: Subscriber, status: SubscriberStatus, now: datetime) -> None:
    """Set the status and the dates the change implies."""
    old = subscriber.status
    if status in SUBSCRIBED and old not in SUBSCRIBED:
        subscriber.subscribed_at = now
        subscriber.unsubscribed_at = None
    if status == SubscriberStatus.UNSUBSCRIBED and old != SubscriberStatus.UNSUBSCRIBED:
        subscriber.unsubscribed_at = now
    if status == SubscriberStatus.ACTIVE and old == SubscriberStatus.BOUNCING:
        subscriber.bounce_score = 0  # or the next bounce sweep disables it again at once
    subscriber.status = status.value


async def add_subscriber(
    session: AsyncSession,
    mlist: MailingList,
    *,
    email: str,
    actor: User,
    origin: Origin,
    name: str = "",
    digest_mode: DigestMode = DigestMode.NONE,
    digest_format: DigestFormat = DigestFormat.MIME,
    status: SubscriberStatus = SubscriberStatus.ACTIVE,
    language: str | None = None,
) -> Subscriber:
    """Put an address on the list as its owner; raises SubscriberExistsError if it is there."""
    address, key = normalize_email(email)
    subscriber = Subscriber(
        list_id=mlist.id,
        email=address,
        email_normalized=key,
        name=name,
        digest_mode=digest_mode.value,
        digest_format=digest_format.value,
        language=language or mlist.language,
        source="owner",
        bounce_score=0,
    )
    _set_status(subscriber, status, utcnow())
    try:
        async with session.begin_nested():  # a savepoint: the conflict leaves the request usable
            session.add(subscriber)
            await session.flush()
    except IntegrityError:
        raise SubscriberExistsError(email=address) from None
    await _record(session, "subscriber.added", subscriber, actor, origin, status=status.value)
    return subscriber


async def update_subscriber(
    session: AsyncSession,
    subscriber: Subscriber,
    *,
    actor: User,
    origin: Origin,
    name: str | None = None,
    status: SubscriberStatus | None = None,
    digest_mode: DigestMode | None = None,
    digest_format: DigestFormat | None = None,
    language: str | None = None,
) -> Subscriber:
    """Change any of name, status, digest mode/format and language; a status change sets its
    dates."""
    wanted = {
        "name": name,
        "digest_mode": digest_mode,
        "digest_format": digest_format,
        "language": language,
    }
    changed = {
        key: str(value)
        for key, value in wanted.items()
        if value is not None and getattr(subscriber, key) != value
    }
    for key, value in changed.items():
        setattr(subscriber, key, value)
    details: dict[str, Any] = {}
    if status is not None and status != subscriber.status:
        details = {"status_from": subscriber.status, "status_to": status.value}
        _set_status(subscriber, status, utcnow())
    if changed or details:
        await session.flush()
        changes = sorted([*changed, *(["status"] if details else [])])
        await _record(
            session, "subscriber.updated", subscriber, actor, origin, changed=changes, **details
        )
    return subscriber


async def remove_subscriber(
    session: AsyncSession, subscriber: Subscriber, *, actor: User, origin: Origin
) -> None:
    """Delete the row (its pending requests go with it; deliveries and bounces keep a NULL)."""
    await session.delete(subscriber)
    await session.flush()
    await _record(session, "subscriber.removed", subscriber, actor, origin)


async def list_awaiting(
    session: AsyncSession, *, list_id: int, offset: int, limit: int
) -> tuple[list[Subscriber], int]:
    """Confirmed addresses waiting for an owner's approval, longest waiting first."""
    conditions = _filters(list_id, status=SubscriberStatus.AWAITING_APPROVAL)
    count = select(func.count()).select_from(Subscriber).where(*conditions)
    total = (await session.execute(count)).scalar_one()
    page = (
        select(Subscriber)
        .where(*conditions)
        .order_by(Subscriber.updated_at, Subscriber.id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(page)).scalars()), int(total)


async def _awaiting(session: AsyncSession, mlist: MailingList, subscriber_id: int) -> Subscriber:
    subscriber = await session.get(Subscriber, subscriber_id)
    if (
        subscriber is None
        or subscriber.list_id != mlist.id
        or subscriber.status != SubscriberStatus.AWAITING_APPROVAL
    ):
        raise RequestNotFoundError(subscriber_id=subscriber_id)
    return subscriber


async def approve(
    session: AsyncSession,
    mlist: MailingList,
    subscriber_id: int,
    *,
    actor: User,
    origin: Origin,
    settings: Settings,
) -> Subscriber:
    """Let a waiting address in: it becomes active and gets the welcome mail."""
    subscriber = await _awaiting(session, mlist, subscriber_id)
    await subscriptions.activate(session, mlist, subscriber, settings=settings)
    await session.flush()
    await _record(session, "subscriber.approved", subscriber, actor, origin)
    return subscriber


async def reject(
    session: AsyncSession,
    mlist: MailingList,
    subscriber_id: int,
    *,
    reason: str,
    actor: User,
    origin: Origin,
    settings: Settings,
) -> None:
    """Turn a waiting address away: it is told (with the reason, if given) and removed."""
    subscriber = await _awaiting(session, mlist, subscriber_id)
    await subscriptions.send_mail(
        session,
        mlist,
        template="subscription_rejected",
        recipient=subscriber.email,
        language=subscriber.language,
        settings=settings,
        address=subscriber.email,
        rejection_reason=reason,
    )
    await _record(session, "subscriber.rejected", subscriber, actor, origin, reason=reason)
    await session.delete(subscriber)
    await session.flush()


async def _record(
    session: AsyncSession,
    action: str,
    subscriber: Subscriber,
    actor: User,
    origin: Origin,
    **details: Any,
) -> None:
    await activity.record(
        session,
        action,
        actor_id=actor.id,
        origin=origin,
        target_type="subscriber",
        target_id=subscriber.id,
        list_id=subscriber.list_id,
        email=subscriber.email,
        **details,
    )


async def record_export(
    session: AsyncSession,
    mlist: MailingList,
    *,
    actor: User,
    origin: Origin,
    status: str | None = None,
) -> None:
    """Log an export before it streams, with how many rows it holds."""
    count = select(func.count()).select_from(Subscriber).where(*_filters(mlist.id, status=status))
    await activity.record(
        session,
        "subscriber.exported",
        actor_id=actor.id,
        origin=origin,
        target_type="list",
        target_id=mlist.id,
        list_id=mlist.id,
        status=status or "all",
        rows=int((await session.execute(count)).scalar_one()),
    )


async def export_csv(
    session: AsyncSession, *, list_id: int, status: str | None = None
) -> AsyncIterator[str]:
    """CSV text ordered by address: the header, then one chunk per batch of subscribers.

    Batches follow the address index (keyset, not offsets), so each costs the same; cells a
    spreadsheet would run as formulas are neutralised.
    """
    yield _csv_text([EXPORT_COLUMNS])
    after = ""
    while rows := await _export_batch(session, list_id=list_id, status=status, after=after):
        yield _csv_text(
            [neutralise(cell) for cell in (email, name, digest, state, _iso(since))]
            for email, name, digest, state, since, _key in rows
        )
        after = rows[-1][-1]


async def _export_batch(
    session: AsyncSession, *, list_id: int, status: str | None, after: str
) -> Sequence[Row[str, str, str, str, datetime | None, str]]:
    query = (
        select(
            Subscriber.email,
            Subscriber.name,
            Subscriber.digest_mode,
            Subscriber.status,
            Subscriber.subscribed_at,
            Subscriber.email_normalized,
        )
        .where(*_filters(list_id, status=status), Subscriber.email_normalized > after)
        .order_by(Subscriber.email_normalized)
        .limit(EXPORT_BATCH_SIZE)
    )
    return (await session.execute(query)).all()


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _csv_text(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)  # RFC 4180: quoted as needed, CRLF line ends
    return buffer.getvalue()
