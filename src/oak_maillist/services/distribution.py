"""A post's delivery rows on their way to the relay: claimed in batches under a lease, given
back when sending failed, and each relay answer recorded on its row.

Each active subscriber who takes single posts (not a digest) gets a delivery row (written by
services/fanout.py); services/composing.py makes the message each recipient gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    any_,
    bindparam,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import Settings
from oak_maillist.db.types import utcnow
from oak_maillist.delivery import relay
from oak_maillist.logging import get_logger
from oak_maillist.metrics import DELIVERIES
from oak_maillist.models import (
    Delivery,
    DeliveryStatus,
)
from oak_maillist.services import outbound

log = get_logger(__name__)

POST_JOB = "delivery.send_post"
BATCH_SIZE = 100
# Sending jobs one post gets at most (each runs its lanes; several workers share a long list).
MAX_JOBS_PER_POST = 4


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this worker holds the lease on: what sending it needs, no more."""

    id: int
    list_id: int
    message_id: int | None
    subscriber_id: int | None
    recipient: str


async def claim_batch(
    session: AsyncSession, message_id: int, *, lease: timedelta, limit: int = BATCH_SIZE
) -> list[Claimed]:
    """Due deliveries of one post that nobody holds, taken under a lease (compare-and-set).

    Concurrent claimers get disjoint rows: PostgreSQL and MariaDB skip rows another
    transaction has locked; SQLite runs one writing transaction at a time. On MariaDB this
    relies on READ COMMITTED (`db.engine.MYSQL_ISOLATION`): lanes claiming side by side would
    deadlock at InnoDB's default isolation.
    """
    now = utcnow()
    lease_until = now + lease
    taken: list[Claimed] = []
    # One status at a time, each an index range in id order (message, status, id): a long
    # post's sent rows are never read again. Queued rows are due from the moment they exist.
    for status, ready in (
        (DeliveryStatus.QUEUED, true()),
        (DeliveryStatus.DEFERRED, Delivery.next_attempt_at <= now),
        (DeliveryStatus.SENDING, Delivery.lease_until < now),
    ):
        due = (
            select(Delivery.id)
            .where(Delivery.message_id == message_id, Delivery.status == status, ready)
            .order_by(Delivery.id)
            .limit(limit - len(taken))
        )
        if session.get_bind().dialect.name != "sqlite":
            due = due.with_for_update(skip_locked=True)
        taken += await _take(session, due, now, lease_until)
        if len(taken) >= limit:
            break
    return sorted(taken, key=lambda row: row.id)


_CLAIMED = (
    Delivery.id,
    Delivery.list_id,
    Delivery.message_id,
    Delivery.subscriber_id,
    Delivery.recipient,
)


async def _take(
    session: AsyncSession, due: Select[int], now: datetime, lease_until: datetime
) -> list[Claimed]:
    """Lease the rows `due` selects and return them."""
    claim = (
        update(Delivery)
        .values(
            status=DeliveryStatus.SENDING, lease_until=lease_until, attempts=Delivery.attempts + 1
        )
        .execution_options(synchronize_session=False)
    )
    dialect = session.get_bind().dialect
    if dialect.update_returning:
        # SQLite and PostgreSQL: chosen, leased and read back in one statement. PostgreSQL
        # gets the ids as an array, looked up by key: it would join an IN (subquery) by
        # scanning the whole table.
        chosen = due.scalar_subquery()
        if dialect.name == "postgresql":
            where = Delivery.id == any_(func.array(chosen))
        else:
            where = Delivery.id.in_(chosen)
        rows = await session.execute(claim.where(where).returning(*_CLAIMED))
        return [Claimed(*row) for row in rows.all()]
    ids = list(await session.scalars(due))
    if not ids:
        return []
    await session.execute(claim.where(Delivery.id.in_(ids), outbound.claimable(Delivery, now)))
    rows = await session.execute(
        select(*_CLAIMED).where(
            Delivery.id.in_(ids),
            Delivery.status == DeliveryStatus.SENDING,
            Delivery.lease_until == lease_until,
        )
    )
    return [Claimed(*row) for row in rows.all()]


def _among(session: AsyncSession, ids: list[int]) -> ColumnElement[bool]:
    """`id IN (ids)`; on PostgreSQL one array parameter, so the statement's text is the same
    for every batch (psycopg prepares it once) instead of a thousand placeholders to parse."""
    if session.get_bind().dialect.name == "postgresql":
        return Delivery.id == any_(bindparam("ids", ids, type_=postgresql.ARRAY(BigInteger)))
    return Delivery.id.in_(ids)


async def release(session: AsyncSession, ids: list[int]) -> None:
    """Give claimed deliveries back (their sending failed before any could go out)."""
    await session.execute(
        update(Delivery)
        .where(_among(session, ids), Delivery.status == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.QUEUED, lease_until=None)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Recorded:
    counts: dict[str, int]
    # Deliveries the relay refused for good (5xx): each counts as a hard bounce.
    refused: list[tuple[Delivery, str]]


async def record_results(
    session: AsyncSession,
    settings: Settings,
    ids: list[int],
    results: list[relay.Result],
) -> Recorded:
    """Store each relay answer on its row: the sent ones in one statement, the rest one by one.

    Only rows still being sent take an answer: a bounce (DSN) can come back before the answer
    is stored, and its `bounced` stays.
    """
    counts: dict[str, int] = {}
    sent = [i for i, r in zip(ids, results, strict=True) if r.outcome is relay.Outcome.SENT]
    if sent:
        result = await session.execute(
            update(Delivery)
            .where(_among(session, sent), Delivery.status == DeliveryStatus.SENDING)
            .values(
                status=DeliveryStatus.SENT,
                sent_at=utcnow(),
                last_code=250,
                last_reply="OK",
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        marked = int(getattr(result, "rowcount", -1))
        counts["sent"] = marked if marked >= 0 else len(sent)
        DELIVERIES.labels("sent").inc(counts["sent"])
    others = {
        i: r for i, r in zip(ids, results, strict=True) if r.outcome is not relay.Outcome.SENT
    }
    refused: list[tuple[Delivery, str]] = []
    if others:
        rows = await session.scalars(
            select(Delivery).where(
                Delivery.id.in_(list(others)), Delivery.status == DeliveryStatus.SENDING
            )
        )
        for row in rows:
            attempt = outbound.record(row, others[row.id], settings)
            counts[str(attempt.status)] = counts.get(str(attempt.status), 0) + 1
            if others[row.id].outcome is relay.Outcome.PERMANENT:
                refused.append((row, f"{attempt.code} {attempt.reply}".strip()))
    return Recorded(counts, refused)


async def due_message_ids(session: AsyncSession, *, limit: int = 200) -> list[int]:
    """Posts with deliveries the sweeper should hand out again."""
    now = utcnow()
    rows = await session.scalars(
        select(Delivery.message_id)
        .where(
            Delivery.message_id.is_not(None),
            Delivery.next_attempt_at <= now,
            outbound.claimable(Delivery, now),
        )
        .group_by(Delivery.message_id)
        .limit(limit)
    )
    return [message_id for message_id in rows if message_id is not None]
