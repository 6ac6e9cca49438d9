"""One transaction at a time writes a list's archive.

A post's thread, its parent, the replies that were waiting for it and whether it is a
duplicate are all decided by reading what the list's earlier posts left. Two transactions
placing posts in one list side by side (two worker processes, or a batch beside a moderator's
approval) would each miss the other's uncommitted posts: a reply and its parent would stay
apart for good, one root could get two threads, a Message-ID could be archived twice and a
thread's count could lose an update. So a transaction that may archive a post in a list first
takes that list's row lock, and holds it until it commits or rolls back; its reads after
that see everything the list's earlier writers committed (PostgreSQL and, as the engine
sets it, MariaDB/MySQL run at READ COMMITTED). Lists are independent: posts to different
lists are processed side by side.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import SessionTransaction

from oak_maillist.models import MailingList

# FOR NO KEY UPDATE on PostgreSQL: it does not block inserts of rows that refer to the list
# (their foreign key check takes FOR KEY SHARE), only other lockers and updates of the row.
# MariaDB/MySQL have FOR UPDATE only (an insert referring to the list then waits its turn).
_LOCK = (
    select(MailingList.id)
    .where(MailingList.id.in_(bindparam("ids", expanding=True)))
    .order_by(MailingList.id)
    .with_for_update(key_share=True)
)

# Session info: (the transaction, the ids of the lists it holds).
_HELD = "oak_list_locks"


async def lock_lists(session: AsyncSession, list_ids: Iterable[int]) -> None:
    """Hold these lists' locks until the session's transaction ends (waiting for the writers
    that hold them now); the ones it already holds are not asked for again.

    Take every list a transaction will write before its first write that refers to one, in
    one call where possible: the locks are taken in id order, so two transactions never
    wait for each other in a cycle. SQLite needs none: a transaction that writes holds the
    database's single write lock from its start (`db.engine.transaction`).
    """
    if session.get_bind().dialect.name == "sqlite":
        return
    _connection = await session.connection()  # the transaction has begun
    current = session.sync_session.get_transaction()
    held: tuple[SessionTransaction | None, set[int]] | None = session.info.get(_HELD)
    if held is None or held[0] is not current:
        held = session.info[_HELD] = (current, set())
    wanted = sorted(set(list_ids) - held[1])
    if wanted:
        await session.execute(_LOCK, {"ids": wanted})
        held[1].update(wanted)
