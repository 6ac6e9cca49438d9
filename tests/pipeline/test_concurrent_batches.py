"""Two batches processing posts to one list at once (two worker processes do): the second
waits for the first's commit and then sees its posts, so replies find their parents, one
root gets one thread, a Message-ID is archived once and a thread's count loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.engine import transaction
from oak_maillist.models import HeldMessage, InboundMessage, MailingList, Message, Thread
from oak_maillist.runtime import Runtime
from oak_maillist.services import moderation, processing
from oak_maillist.services.activity import Origin
from oak_maillist.tasks.jobs import inbound as inbound_jobs
from tests.factories import make_domain, make_list, make_user
from tests.pipeline.conftest import message

# How long the second batch (or approval) may run while the first batch holds its transaction
# open; without the list's lock it finishes well within this (and the test then fails).
SECOND_HEAD_START = 1.0

T = TypeVar("T")


@dataclass(frozen=True)
class Post:
    message_id: str
    references: str = ""


async def _store(runtime: Runtime, *posts: Post) -> list[int]:
    async with transaction(runtime.sessionmaker) as session:
        rows = [
            InboundMessage(
                raw=message(
                    subject=f"About {post.message_id}",
                    message_id=f"<{post.message_id}>",
                    headers={"In-Reply-To": f"<{post.references}>"} if post.references else {},
                ).encode(),
                size=100,
                envelope_from="alice@example.com",
                recipients=["dev@lists.example.org"],
            )
            for post in posts
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def _make_list(runtime: Runtime, **fields: object) -> None:
    async with transaction(runtime.sessionmaker) as session:
        domain = await make_domain(session, "lists.example.org")
        await make_list(session, domain, "dev", posting_policy="anyone", **fields)


async def _while_open(
    monkeypatch: pytest.MonkeyPatch,
    first_ids: list[int],
    second: Callable[[], Coroutine[Any, Any, T]],
) -> tuple[list[str | Exception], T]:
    """Process `first_ids` in one batch and, while it holds its transaction open after its
    writes, run `second`; then let the batch commit."""
    written, commit = asyncio.Event(), asyncio.Event()
    real_finish = processing.finish

    async def finish(session: AsyncSession) -> None:
        await real_finish(session)
        if not written.is_set():  # the first batch: it waits here, uncommitted
            written.set()
            await commit.wait()

    monkeypatch.setattr(processing, "finish", finish)
    one = asyncio.create_task(inbound_jobs._process_batch(first_ids))
    await asyncio.wait_for(written.wait(), 10)
    two = asyncio.create_task(second())
    await asyncio.wait({two}, timeout=SECOND_HEAD_START)
    commit.set()
    return await asyncio.wait_for(one, 10), await asyncio.wait_for(two, 10)


async def _side_by_side(
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    first: list[Post],
    second: list[Post],
    *,
    earlier: tuple[Post, ...] = (),
) -> tuple[list[str | Exception], list[str | Exception]]:
    """Batches of `first` and `second` side by side (see `_while_open`); `earlier` posts are
    archived before."""
    await _make_list(runtime)
    if earlier:
        outcomes = await inbound_jobs._process_batch(await _store(runtime, *earlier))
        assert outcomes == ["accept"] * len(earlier)
    first_ids = await _store(runtime, *first)
    second_ids = await _store(runtime, *second)
    return await _while_open(
        monkeypatch, first_ids, lambda: inbound_jobs._process_batch(second_ids)
    )


async def _archive(runtime: Runtime) -> tuple[dict[str, Message], list[Thread]]:
    async with runtime.sessionmaker() as session:
        posts = {m.message_id: m for m in await session.scalars(select(Message))}
        threads = list(await session.scalars(select(Thread)))
    return posts, threads


async def test_a_reply_finds_its_parent_from_the_other_batch(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = await _side_by_side(
        started, monkeypatch, [Post("root@x")], [Post("reply@x", references="root@x")]
    )
    assert outcomes == (["accept"], ["accept"])
    posts, threads = await _archive(started)
    assert posts["reply@x"].parent_id == posts["root@x"].id
    assert posts["reply@x"].parent_ref_hash is None
    assert posts["reply@x"].thread_depth == 1
    assert [(t.root_message_id, t.message_count) for t in threads] == [("root@x", 2)]


async def test_a_parent_adopts_its_reply_from_the_other_batch(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _side_by_side(
        started, monkeypatch, [Post("reply@x", references="root@x")], [Post("root@x")]
    )
    posts, threads = await _archive(started)
    assert posts["reply@x"].parent_id == posts["root@x"].id
    assert posts["reply@x"].thread_id == posts["root@x"].thread_id
    assert [(t.root_message_id, t.message_count) for t in threads] == [("root@x", 2)]


async def test_replies_to_an_unseen_root_in_two_batches_share_one_thread(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _side_by_side(
        started,
        monkeypatch,
        [Post("a@x", references="gone@x")],
        [Post("b@x", references="gone@x")],
    )
    posts, threads = await _archive(started)
    assert posts["a@x"].thread_id == posts["b@x"].thread_id
    assert [(t.root_message_id, t.message_count) for t in threads] == [("gone@x", 2)]


async def test_one_message_id_in_two_batches_is_archived_once(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = await _side_by_side(started, monkeypatch, [Post("same@x")], [Post("same@x")])
    assert outcomes == (["accept"], ["discard"])
    posts, threads = await _archive(started)
    assert list(posts) == ["same@x"]
    assert [t.message_count for t in threads] == [1]


async def test_replies_to_one_thread_in_two_batches_are_all_counted(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _side_by_side(
        started,
        monkeypatch,
        [Post("a@x", references="root@x")],
        [Post("b@x", references="root@x")],
        earlier=(Post("root@x"),),
    )
    posts, threads = await _archive(started)
    (thread,) = threads
    assert thread.message_count == 3
    assert sorted(p.thread_order for p in posts.values()) == [1, 2, 3]
    assert {posts["a@x"].parent_id, posts["b@x"].parent_id} == {posts["root@x"].id}


async def test_an_approved_reply_finds_its_parent_from_a_batch_under_way(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _make_list(started, emergency_hold=True)
    (held_id,) = await _store(started, Post("reply@x", references="root@x"))
    assert await inbound_jobs._process_batch([held_id]) == ["hold"]
    async with transaction(started.sessionmaker) as session:
        await session.execute(update(MailingList).values(emergency_hold=False))
        moderator = await make_user(session, started.settings.security, "mod@example.org")
    root_ids = await _store(started, Post("root@x"))

    async def approve() -> str:
        async with transaction(started.sessionmaker) as session:
            held = await session.scalar(select(HeldMessage))
            assert held is not None
            result = await moderation.approve(
                session, started.settings, held, user=moderator, origin=Origin()
            )
            return result.decision.action.value

    assert await _while_open(monkeypatch, root_ids, approve) == (["accept"], "accept")
    posts, threads = await _archive(started)
    assert posts["reply@x"].parent_id == posts["root@x"].id
    assert [(t.root_message_id, t.message_count) for t in threads] == [("root@x", 2)]
