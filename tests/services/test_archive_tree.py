"""Thread trees survive what headers can do to them: very deep reply chains and parent loops."""

from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import Message, Thread
from oak_maillist.services import archive_reading
from tests.factories import make_list


async def _thread_with(db: AsyncSession, count: int) -> tuple[Thread, list[Message]]:
    mlist = await make_list(db)
    thread = Thread(list_id=mlist.id, subject="t", message_count=count)
    db.add(thread)
    await db.flush()
    rows = []
    for n in range(count):
        row = Message(
            list_id=mlist.id, thread_id=thread.id, message_id=f"{n}@x", message_id_hash=f"{n:064d}"
        )
        db.add(row)
        rows.append(row)
    await db.flush()
    return thread, rows


async def test_a_chain_deeper_than_the_recursion_limit(db: AsyncSession) -> None:
    thread, rows = await _thread_with(db, 1500)
    for parent, child in itertools.pairwise(rows):
        child.parent_id = parent.id
    await db.flush()
    order = archive_reading.flatten(await archive_reading.thread_tree(db, thread))
    assert [node.message.id for node in order] == [row.id for row in rows]
    assert order[-1].depth == 1499


async def test_parents_that_point_at_each_other_still_make_a_tree(db: AsyncSession) -> None:
    thread, (a, b, c) = await _thread_with(db, 3)
    a.parent_id, b.parent_id, c.parent_id = b.id, a.id, None
    await db.flush()
    order = archive_reading.flatten(await archive_reading.thread_tree(db, thread))
    assert sorted(node.message.id for node in order) == sorted([a.id, b.id, c.id])
    assert all(node.depth == 0 for node in order)
