"""Fan-out: an accepted post becomes one delivery row per active, non-digest subscriber.

The first chunk of rows is written in the transaction that accepts the post, so sending can
start the moment it commits; the rest follow chunk by chunk in later transactions (the
`delivery.fan_out` job), in subscriber id order, up to the highest subscriber id the list had
when the post was accepted. `pending_fanouts` records how far a fan-out got, so a process that
dies between chunks loses nothing: the sweeper hands the remainder to another job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from oak_maillist.db.types import UtcDateTime, utcnow
from oak_maillist.logging import get_logger
from oak_maillist.models import (
    Delivery,
    DeliveryStatus,
    DigestMode,
    MailingList,
    Message,
    PendingFanout,
    Subscriber,
    SubscriberStatus,
)
from oak_maillist.services.distribution import MAX_JOBS_PER_POST, POST_JOB
from oak_maillist.tasks.queue import enqueue_after_commit, is_shared

log = get_logger(__name__)

FANOUT_JOB = "delivery.fan_out"
# Rows written with the post itself: enough to keep every relay connection busy at once.
FIRST_CHUNK = 500
# Rows per later transaction: large enough that sending never waits for rows (10,000 take
# about 0.1 s on SQLite), small enough that sending lanes get the database in between. The
# first later chunks are smaller (2,000, then 4,000, ...), so that their rows reach the lanes
# sooner, while the first ones are still being sent.
CHUNK = 10_000
GROWING_FROM = 2_000
_COLUMNS = [
    "list_id",
    "message_id",
    "subscriber_id",
    "recipient",
    "kind",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
]


_LAST_SUBSCRIBER = select(func.max(Subscriber.id)).where(Subscriber.list_id == bindparam("list_id"))
_LAST_SUBSCRIBERS = (
    select(Subscriber.list_id, func.max(Subscriber.id))
    .where(Subscriber.list_id.in_(bindparam("lists", expanding=True)))
    .group_by(Subscriber.list_id)
)
# A session whose info holds this key (a dict) takes each list's highest subscriber id from it:
# processing reads them once for a batch of posts (see services.processing.prepare), and drops
# them when a mail command may have added a subscriber.
LAST_SUBSCRIBERS = "oak_last_subscribers"


async def remember_last_subscribers(session: AsyncSession, list_ids: set[int]) -> None:
    """Read the highest subscriber id of each list once, for the session's transaction."""
    found: dict[int, int | None] = dict.fromkeys(list_ids)
    if list_ids:
        rows = await session.execute(_LAST_SUBSCRIBERS, {"lists": list(list_ids)})
        found.update({row[0]: row[1] for row in rows})
    session.info[LAST_SUBSCRIBERS] = found


def forget_last_subscribers(session: AsyncSession) -> None:
    session.info.pop(LAST_SUBSCRIBERS, None)


async def _last_subscriber(session: AsyncSession, list_id: int) -> int | None:
    known: dict[int, int | None] | None = session.info.get(LAST_SUBSCRIBERS)
    if known is not None and list_id in known:
        return known[list_id]
    last: int | None = await session.scalar(_LAST_SUBSCRIBER, {"list_id": list_id})
    return last


@dataclass(frozen=True)
class Chunk:
    written: int
    done: bool


async def fan_out(session: AsyncSession, mlist: MailingList, message: Message) -> int:
    """Write the post's first delivery rows and arrange for the rest; the rows written."""
    last = await _last_subscriber(session, mlist.id)
    if last is None:
        return 0
    written, through = await _write(session, mlist.id, message.id, 0, last, FIRST_CHUNK)
    if through < last:
        session.add(
            PendingFanout(
                message_id=message.id,
                list_id=mlist.id,
                done_through=through,
                last_subscriber_id=last,
                updated_at=utcnow(),
            )
        )
        enqueue_after_commit(session, FANOUT_JOB, message_id=message.id)
    # A long post gets several sending jobs from the start when other worker processes can
    # take some: each process that runs one sends with its own lanes and connections.
    senders = MAX_JOBS_PER_POST if through < last and is_shared() else 1
    for _ in range(senders if written else 0):
        enqueue_after_commit(session, POST_JOB, message_id=message.id)
    log.info(
        "post_fanned_out",
        list_id=mlist.id,
        message_id=message.id,
        deliveries=written,
        complete=through >= last,
    )
    return written


async def next_chunk(session: AsyncSession, message_id: int, *, number: int) -> Chunk | None:
    """Write the next chunk of a pending fan-out (None: nothing is pending for this post).

    The pending row is locked (PostgreSQL, MariaDB) or the database is (SQLite) for the whole
    transaction, so two jobs never write the same chunk. `number` counts the chunks this job
    wrote before: the first starts a sending job too, for a fan-out taken up again after it
    stalled (where a process already sends the post, that job ends at once).
    """
    query = select(PendingFanout).where(PendingFanout.message_id == message_id)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    pending = await session.scalar(query)
    if pending is None:
        return None
    written, through = await _write(
        session,
        pending.list_id,
        message_id,
        pending.done_through,
        pending.last_subscriber_id,
        min(CHUNK, GROWING_FROM << min(number, 16)),
    )
    done = through >= pending.last_subscriber_id
    if done:
        await session.execute(delete(PendingFanout).where(PendingFanout.message_id == message_id))
    else:
        await session.execute(
            update(PendingFanout)
            .where(PendingFanout.message_id == message_id)
            .values(done_through=through, updated_at=utcnow())
        )
    if written and number == 0:
        enqueue_after_commit(session, POST_JOB, message_id=message_id)
    return Chunk(written, done)


async def is_pending(session: AsyncSession, message_id: int) -> bool:
    """Whether more rows of this post are still to be written."""
    found = await session.scalar(
        select(PendingFanout.message_id).where(PendingFanout.message_id == message_id)
    )
    return found is not None


async def stalled(session: AsyncSession, *, grace: timedelta) -> list[int]:
    """Posts whose fan-out nobody has moved on for `grace`."""
    return list(
        await session.scalars(
            select(PendingFanout.message_id)
            .where(PendingFanout.updated_at <= utcnow() - grace)
            .order_by(PendingFanout.message_id)
            .limit(200)
        )
    )


async def _write(
    session: AsyncSession, list_id: int, message_id: int, after: int, last: int, size: int
) -> tuple[int, int]:
    """Rows for up to `size` eligible subscribers with ids in (after, last]; returns how many
    were written and the id through which every eligible subscriber now has one."""
    boundary = await session.scalar(
        select(Subscriber.id)
        .where(*_eligible(list_id, after, last))
        .order_by(Subscriber.id)
        .offset(size - 1)
        .limit(1)
    )
    through = last if boundary is None else boundary
    now = utcnow()
    chosen = select(
        literal(list_id),
        literal(message_id),
        Subscriber.id,
        Subscriber.email,
        literal("post"),
        literal(str(DeliveryStatus.QUEUED)),
        literal(0),
        literal(now, UtcDateTime),
        literal(now, UtcDateTime),
    ).where(*_eligible(list_id, after, through))
    result = await session.execute(insert(Delivery).from_select(_COLUMNS, chosen))
    written = int(getattr(result, "rowcount", -1))
    if written < 0:  # the driver does not say how many rows an INSERT ... SELECT wrote
        written = size
        if boundary is None:
            count = select(func.count(Subscriber.id)).where(*_eligible(list_id, after, through))
            written = await session.scalar(count) or 0
    return written, through


def _eligible(list_id: int, after: int, through: int) -> tuple[ColumnElement[bool], ...]:
    """Active subscribers who take single posts, with ids in (after, through]."""
    return (
        Subscriber.list_id == list_id,
        Subscriber.status == SubscriberStatus.ACTIVE,
        Subscriber.digest_mode == DigestMode.NONE,
        Subscriber.id > after,
        Subscriber.id <= through,
    )
