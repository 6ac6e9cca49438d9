"""A batch of posts processed in one transaction reads the archive once for all of them
(services.archive_memo): the archive it builds must be the one that processing the same posts
one at a time builds: duplicates, parents, threads, replies adopted by a late parent, merges."""

from __future__ import annotations

from sqlalchemy import select

from oak_maillist.db.engine import transaction
from oak_maillist.models import Domain, InboundMessage, Message, Thread
from oak_maillist.runtime import Runtime
from oak_maillist.services import search
from oak_maillist.tasks.jobs import inbound as inbound_jobs
from tests.factories import make_domain, make_list
from tests.pipeline.conftest import message

# (Message-ID, In-Reply-To, References, subject): in arrival order.
POSTS = [
    ("<a@x>", "", "", "Topic A"),
    ("<a1@x>", "<a@x>", "<a@x>", "Re: Topic A"),  # its parent is earlier in the batch
    ("<a@x>", "", "", "Topic A"),  # the same Message-ID again: a duplicate
    ("<b2@x>", "<b1@x>", "<b@x> <b1@x>", "Re: Topic B"),  # parent and root still unknown
    ("<b1@x>", "<b@x>", "<b@x>", "Re: Topic B"),  # adopts b2; its root b is still unknown
    ("<b@x>", "", "", "Topic B"),  # the root arrives last: the thread rooted at it joins
    ("<c1@x>", "<c@x>", "<c@x>", "Re: Topic C"),  # root c never arrives
    ("<c2@x>", "<c@x>", "<c@x>", "Re: Topic C"),  # same missing root: same thread
    ("<a2@x>", "<a1@x>", "<a@x> <a1@x>", "Re: Topic A"),
    ("<d@x>", "", "", "Re: Topic A"),  # no threading headers: subject fallback
    ("<e@x>", "", "", "Topic E"),
]


def _raw(to: str, message_id: str, in_reply_to: str, references: str, subject: str) -> bytes:
    headers = {"In-Reply-To": in_reply_to, "References": references} if in_reply_to else {}
    body = f"Post {message_id} kiwi{len(message_id)} 归档帖子\n"
    return message(
        to=to, subject=subject, message_id=message_id, headers=headers, body=body
    ).encode()


async def _store(runtime: Runtime, local_part: str) -> tuple[int, list[int]]:
    async with transaction(runtime.sessionmaker) as session:
        domain = await session.scalar(select(Domain).where(Domain.name == "lists.example.org"))
        if domain is None:
            domain = await make_domain(session, "lists.example.org")
        mlist = await make_list(session, domain, local_part, posting_policy="anyone")
        to = f"{local_part}@lists.example.org"
        rows = [
            InboundMessage(
                raw=_raw(to, *post),
                size=200,
                envelope_from="alice@example.com",
                recipients=[to],
            )
            for post in POSTS
        ]
        session.add_all(rows)
        await session.flush()
        return mlist.id, [row.id for row in rows]


async def _archive(runtime: Runtime, list_id: int) -> dict[str, tuple[str, str, int, int]]:
    """Each archived post: (its parent's Message-ID, its thread's root, depth, thread size)."""
    async with runtime.sessionmaker() as session:
        messages = (await session.scalars(select(Message).where(Message.list_id == list_id))).all()
        threads = {
            t.id: t for t in await session.scalars(select(Thread).where(Thread.list_id == list_id))
        }
    by_id = {m.id: m for m in messages}
    found: dict[str, tuple[str, str, int, int]] = {}
    for m in messages:
        parent = by_id[m.parent_id].message_id if m.parent_id in by_id else ""
        thread = threads[m.thread_id] if m.thread_id is not None else None
        assert m.message_id not in found, f"{m.message_id} archived twice"
        found[m.message_id] = (
            parent,
            thread.root_message_id if thread else "",
            m.thread_depth,
            thread.message_count if thread else 0,
        )
    return found


async def _outcomes(runtime: Runtime, ids: list[int]) -> list[str | None]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(InboundMessage).where(InboundMessage.id.in_(ids)).order_by(InboundMessage.id)
        )
        return [row.outcome for row in rows]


async def _found(runtime: Runtime, list_id: int, query: str) -> list[str]:
    async with runtime.sessionmaker() as session:
        hits, total = await search.search(session, list_id=list_id, query=query, per_page=50)
        ids = await session.scalars(
            select(Message.message_id).where(Message.id.in_([hit.id for hit in hits]))
        )
        assert total == len(hits)
        return sorted(ids)


async def _statuses(runtime: Runtime, ids: list[int]) -> set[str]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(select(InboundMessage).where(InboundMessage.id.in_(ids)))
        return {
            f"{row.status}/{row.lease_until is None}/{row.processed_at is not None}" for row in rows
        }


async def test_one_batch_archives_what_one_post_at_a_time_does(started: Runtime) -> None:
    alone_list, alone_ids = await _store(started, "alone")
    batch_list, batch_ids = await _store(started, "batch")
    for inbound_id in alone_ids:
        assert await inbound_jobs._process_batch([inbound_id]) == [
            (await _outcomes(started, [inbound_id]))[0]
        ]
    results = await inbound_jobs._process_batch(batch_ids)
    assert len(batch_ids) == len(POSTS)

    assert results == await _outcomes(started, batch_ids)
    assert await _outcomes(started, batch_ids) == await _outcomes(started, alone_ids)
    alone = await _archive(started, alone_list)
    assert await _archive(started, batch_list) == alone

    # Index rows and outcomes written for the whole batch at its end are all there.
    assert await _statuses(started, batch_ids) == {"done/True/True"}
    for query in ("kiwi5", "归档", "post"):
        assert await _found(started, batch_list, query) == await _found(started, alone_list, query)
    assert await _found(started, batch_list, "kiwi5") == ["a@x", "b@x", "d@x", "e@x"]
    assert len(await _found(started, batch_list, "归档")) == len(POSTS) - 1

    # And what both give is right, not merely the same.
    assert results.count("discard") == 1
    assert results[2] == "discard"  # the duplicate
    assert alone == {
        "a@x": ("", "a@x", 0, 4),
        "a1@x": ("a@x", "a@x", 1, 4),  # its parent was stored just before it
        "a2@x": ("a1@x", "a@x", 2, 4),
        "d@x": ("", "a@x", 0, 4),  # no headers: joined by its subject
        "b@x": ("", "b@x", 0, 3),  # the late root: the thread its replies started joined
        "b1@x": ("b@x", "b@x", 1, 3),
        "b2@x": ("b1@x", "b@x", 2, 3),  # adopted by its late parent
        "c1@x": ("", "c@x", 0, 2),  # the root never came: siblings in one thread
        "c2@x": ("", "c@x", 0, 2),
        "e@x": ("", "e@x", 0, 1),
    }
