"""A batch's posts are indexed for search as each post alone would be. On PostgreSQL and
MySQL/MariaDB that is done after the batch commits, from a backlog: what indexing then
leaves there (it failed, the process died) the sweeper indexes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, select

from oak_maillist.db.engine import transaction
from oak_maillist.db.types import utcnow
from oak_maillist.models import InboundMessage, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services import search
from oak_maillist.services.search import backlog
from oak_maillist.tasks.jobs import inbound as inbound_jobs
from oak_maillist.tasks.jobs.search import sweep as sweep_job
from tests.factories import make_domain, make_list, message_row
from tests.pipeline.conftest import message
from tests.services.test_search import index_rows

POSTS = [
    ("Plain English", "Ann Lee <ann@example.org>", "Ship it on Friday; the kernel builds.\n"),
    ("中文主题", "李雷 <li@example.cn>", "我们用中文写邮件列表。Mixed 中文 and English.\n"),
    ("Empty body", "Bob <bob@example.org>", ""),
    (
        "Long",
        "Carol <carol@example.org>",
        "A fox jumps over the lazy dog. 狐狸跳过了懒狗。\n" * 900,
    ),
    ("ひらがな 한국어", "Dan <dan@example.org>", "テキスト e-mail a.b/c 42é😀𠀀\n"),
]


@pytest.fixture
def statements(started: Runtime) -> Iterator[list[str]]:
    """The SQL the engine runs while the test does."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(started.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(started.engine.sync_engine, "before_cursor_execute", record)


async def _process(runtime: Runtime) -> list[Message]:
    """The posts sent in one batch to a list, the first one to a second list as well."""
    async with transaction(runtime.sessionmaker) as session:
        domain = await make_domain(session, "lists.example.org")
        for name in ("dev", "ops"):
            await make_list(session, domain, name, posting_policy="anyone")
        rows = [
            InboundMessage(
                raw=message(
                    sender=sender, subject=subject, body=body, message_id=f"<s{n}@example.org>"
                ).encode(),
                size=100,
                envelope_from="ann@example.org",
                recipients=["dev@lists.example.org"]
                + (["ops@lists.example.org"] if n == 0 else []),
            )
            for n, (subject, sender, body) in enumerate(POSTS)
        ]
        session.add_all(rows)
        await session.flush()
        ids = [row.id for row in rows]
    assert await inbound_jobs._process_batch(ids) == ["accept"] * len(POSTS)
    async with runtime.sessionmaker() as session:
        return list(await session.scalars(select(Message).order_by(Message.id)))


async def _alone(runtime: Runtime, backend: str, messages: list[Message]) -> list[object]:
    """The index rows of the messages indexed again, each alone."""
    async with transaction(runtime.sessionmaker) as session:
        for archived in messages:
            await search.index(session, await session.merge(archived), fresh=False)
        return await index_rows(session, backend, [m.id for m in messages])


async def _backlog(runtime: Runtime) -> list[int]:
    async with runtime.sessionmaker() as session:
        return list(await session.scalars(select(backlog.BACKLOG.c.message_id)))


async def test_a_batchs_posts_are_indexed_as_each_alone_would_be(
    started: Runtime, backend: str, statements: list[str]
) -> None:
    messages = await _process(started)
    assert len(messages) == len(POSTS) + 1  # the cross-post is archived in both lists
    async with started.sessionmaker() as session:
        batch = await index_rows(session, backend, [m.id for m in messages])
    assert all(batch) or backend == "sqlite"  # SQLite's CJK table: rows for CJK text only
    queued = any(ran.startswith(f"INSERT INTO {backlog.TABLE} ") for ran in statements)
    assert queued == (backend != "sqlite")
    assert await _backlog(started) == []
    assert await _alone(started, backend, messages) == batch


async def test_posts_whose_indexing_failed_wait_in_the_backlog_for_the_sweeper(
    started: Runtime,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As if the process had died between the batch's commit and its index's: the posts are
    archived, and found once the sweeper has been by (not before its grace has passed)."""
    real_index = search.index

    async def failing(session: Any, message: Message, *, fresh: bool = False) -> None:
        if fresh:
            raise RuntimeError("the index is unreachable")
        await real_index(session, message, fresh=fresh)

    if backend != "sqlite":  # SQLite indexes in the archive's transaction
        monkeypatch.setattr(search, "index", failing)
    messages = await _process(started)
    chinese = next(m for m in messages if m.subject == "中文主题")
    async with started.sessionmaker() as session:
        found, _ = await search.search(session, list_id=chinese.list_id, query="中文")
    queued = await _backlog(started)
    if backend == "sqlite":
        assert queued == []
        assert [hit.id for hit in found] == [chinese.id]
        return
    assert found == []
    assert sorted(queued) == sorted(m.id for m in messages)
    warned = [r.getMessage() for r in caplog.records if "search_index_deferred" in r.getMessage()]
    assert len(warned) == 1
    assert "the index is unreachable" in warned[0]
    assert await sweep_job(grace_seconds=60) == 0  # queued just now: their batch may be busy
    assert await sweep_job(grace_seconds=0) == len(messages)
    assert await _backlog(started) == []
    async with started.sessionmaker() as session:
        found, total = await search.search(session, list_id=chinese.list_id, query="中文")
        rows = await index_rows(session, backend, [m.id for m in messages])
    assert ([hit.id for hit in found], total) == ([chinese.id], 1)
    assert await _alone(started, backend, messages) == rows


async def test_the_sweeper_drops_deleted_messages_and_works_in_rounds(
    started: Runtime, backend: str
) -> None:
    async with transaction(started.sessionmaker) as session:
        domain = await make_domain(session, "lists.example.org")
        mlist = await make_list(session, domain, "dev", posting_policy="anyone")
        kept = [_row(mlist.id, f"Kept {n}") for n in range(5)]
        gone = _row(mlist.id, "Gone")
        session.add_all([*kept, gone])
        await session.flush()
        ids = [m.id for m in [*kept, gone]]
        await session.execute(
            backlog.QUEUE, [{"id": i, "at": utcnow() - timedelta(minutes=5)} for i in ids]
        )
    async with transaction(started.sessionmaker) as session:
        await session.execute(delete(Message).where(Message.id == gone.id))
    assert await search.sweep_backlog(started.sessionmaker, grace=timedelta(0), batch=2) == 6
    assert await _backlog(started) == []
    async with started.sessionmaker() as session:
        found, total = await search.search(session, list_id=mlist.id, query="kept")
    assert total == 5
    assert sorted(hit.id for hit in found) == sorted(m.id for m in kept)


def _row(list_id: int, subject: str) -> Message:
    return message_row(
        list_id,
        f"<{subject.replace(' ', '.')}@example.org>",
        subject=subject,
        text_body=f"{subject}: a post written by another program.",
        sender_email="ann@example.org",
        sender_name="Ann Lee",
    )
