"""Posts indexed after their batch commits: messages_search_backlog (revision e4a6c8e0a2b4).

On PostgreSQL and MySQL/MariaDB, indexing took up to half of a batch's time (bench/ingest.py,
oak_inbound_stage_seconds), inside the transaction that holds the lists' locks. A batch now
queues its posts here, in its own transaction, and indexes them in another right after it
commits, while the next batch is processed; that transaction takes them out of the backlog.
What a crash or an error leaves here, the sweeper indexes (job search.sweep). SQLite indexes
in the archive's transaction as before: with one write lock for everything, a second
transaction only adds a commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import BigInteger, bindparam, column, delete, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import UtcDateTime, utcnow
from oak_maillist.models import Message
from oak_maillist.services.search import pending

TABLE = "messages_search_backlog"
BACKLOG = table(TABLE, column("message_id", BigInteger), column("queued_at", UtcDateTime))
QUEUE = text(f"INSERT INTO {TABLE} (message_id, queued_at) VALUES (:id, :at)").bindparams(  # noqa: S608
    bindparam("at", type_=UtcDateTime())
)

# Session info: the posts a deferring session queued (see `defer`).
_DEFERRED = "oak_search_deferred"


def defer(session: AsyncSession, queued: list[Message]) -> None:
    """From now on, on databases other than SQLite, posts this session archives are queued
    (`queue`) into `queued` and the backlog instead of being indexed: index them once it
    has committed (search.index_backlog)."""
    if session.get_bind().dialect.name != "sqlite":
        session.info[_DEFERRED] = queued


async def queue(session: AsyncSession, message: Message) -> bool:
    """Queue a post just archived, if the session defers; whether it did."""
    queued: list[Message] | None = session.info.get(_DEFERRED)
    if queued is None:
        return False
    await pending.write(session, QUEUE, [{"id": message.id, "at": utcnow()}])
    queued.append(message)
    return True


async def due(session: AsyncSession, *, queued_before: datetime, limit: int) -> list[int]:
    """Up to `limit` messages queued before then, oldest first, locked (skipping those that
    another transaction holds)."""
    rows = await session.scalars(
        select(BACKLOG.c.message_id)
        .where(BACKLOG.c.queued_at <= queued_before)
        .order_by(BACKLOG.c.message_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def drop(session: AsyncSession, message_ids: Sequence[int]) -> None:
    """Take indexed (or deleted) messages out of the backlog."""
    if message_ids:
        await session.execute(
            delete(BACKLOG).where(BACKLOG.c.message_id.in_(bindparam("ids", expanding=True))),
            {"ids": list(message_ids)},
        )
