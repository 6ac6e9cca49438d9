"""A batch's posts are indexed for search as each post alone would be. On PostgreSQL their
documents are made on a connection of their own while the batch goes on (pg_documents), and
made by the index statement itself when that fails."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import TextClause, event, select, text

from oak_maillist.config import QueueSettings, Settings
from oak_maillist.db.engine import transaction
from oak_maillist.models import InboundMessage, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services import search
from oak_maillist.services.search import pg_documents
from oak_maillist.services.search import postgres as pg_search
from oak_maillist.tasks import queue
from oak_maillist.tasks.jobs import inbound as inbound_jobs
from tests.factories import make_domain, make_list
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
async def small_pool(settings: Settings) -> AsyncIterator[Runtime]:
    """The test database with a pool of two connections (database.max_connections)."""
    database = settings.database.model_copy(update={"max_connections": 2})
    runtime = Runtime.from_settings(settings.model_copy(update={"database": database}))
    await queue.start(runtime, queue.make_broker(QueueSettings()), worker=True)
    yield runtime
    await queue.stop()
    await runtime.close()


@pytest.fixture
def statements(started: Runtime) -> Iterator[list[str]]:
    """The SQL the engine runs while the test does."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(started.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(started.engine.sync_engine, "before_cursor_execute", record)


def _ran(statements: list[str], statement: TextClause) -> bool:
    """Whether the engine ran `statement` (as psycopg sees it: %(name)s for :name)."""
    sent = re.sub(r"(?<!:):(\w+)", r"%(\1)s", str(statement)).strip()
    return any(sent in ran for ran in statements)


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


async def test_a_batchs_posts_are_indexed_as_each_alone_would_be(
    started: Runtime, backend: str, statements: list[str]
) -> None:
    messages = await _process(started)
    assert len(messages) == len(POSTS) + 1  # the cross-post is archived in both lists
    async with started.sessionmaker() as session:
        batch = await index_rows(session, backend, [m.id for m in messages])
    assert all(batch) or backend == "sqlite"  # SQLite's CJK table: rows for CJK text only
    used = {
        "made": _ran(statements, pg_documents.MAKE),
        "copied in": _ran(statements, pg_search.INDEX_MADE),
        "made by the index statement": _ran(statements, pg_search.INDEX),
    }
    on_postgresql = backend == "postgresql"
    assert used == {
        "made": on_postgresql,
        "copied in": on_postgresql,
        "made by the index statement": False,
    }
    assert await _alone(started, backend, messages) == batch


async def test_when_making_documents_fails_the_index_statement_makes_them(
    started: Runtime,
    backend: str,
    statements: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(pg_documents, "MAKE", text("SELECT no_such_function()"))
    messages = await _process(started)
    async with started.sessionmaker() as session:
        batch = await index_rows(session, backend, [m.id for m in messages])
        chinese = next(m for m in messages if m.subject == "中文主题")
        found, total = await search.search(session, list_id=chinese.list_id, query="中文")
    assert [(hit.id, hit.subject) for hit in found] == [(chinese.id, "中文主题")]
    assert total == 1
    assert _ran(statements, pg_search.INDEX) == (backend == "postgresql")
    warned = [r.getMessage() for r in caplog.records if r.name == pg_documents.__name__]
    assert len(warned) == (backend == "postgresql")
    assert all("search_documents_failed" in w and "no_such_function" in w for w in warned)
    assert await _alone(started, backend, messages) == batch


async def test_a_small_pool_is_left_to_the_batch(
    runtime: Runtime, small_pool: Runtime, backend: str
) -> None:
    """With two connections, the batch makes its documents in the index statement: a third
    connection would wait for one of the batch's or the SMTP edge's. (`runtime`: the tables
    are emptied after the test.)"""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(small_pool.engine.sync_engine, "before_cursor_execute", record)
    try:
        messages = await _process(small_pool)
    finally:
        event.remove(small_pool.engine.sync_engine, "before_cursor_execute", record)
    assert not _ran(seen, pg_documents.MAKE)
    assert _ran(seen, pg_search.INDEX) == (backend == "postgresql")
    async with small_pool.sessionmaker() as session:
        batch = await index_rows(session, backend, [m.id for m in messages])
    assert await _alone(small_pool, backend, messages) == batch


@pytest.mark.parametrize(
    ("split_chars", "pool", "makers"),
    [
        (pg_documents.SPLIT_CHARS, 20, 1),  # short texts: one connection makes them all
        (1, 20, 2),  # long texts waiting: a second connection takes a share
        (1, pg_documents.MIN_POOL, 1),  # no connection to spare for a second one
    ],
)
async def test_long_texts_are_made_on_two_connections(
    runtime: Runtime,
    settings: Settings,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    split_chars: int,
    pool: int,
    makers: int,
) -> None:
    """Each maker keeps one server process busy; the documents are the same either way.
    (`runtime`: the tables are emptied after the test.)"""
    monkeypatch.setattr(pg_documents, "SPLIT_CHARS", split_chars)
    database = settings.database.model_copy(update={"max_connections": pool})
    sized = Runtime.from_settings(settings.model_copy(update={"database": database}))
    await queue.start(sized, queue.make_broker(QueueSettings()), worker=True)
    connections: set[int] = set()
    sent = re.sub(r"(?<!:):(\w+)", r"%(\1)s", str(pg_documents.MAKE)).strip()

    def record(connection: object, *args: object) -> None:
        if sent in str(args[1]):
            connections.add(id(connection.connection.dbapi_connection))  # type: ignore[attr-defined]

    event.listen(sized.engine.sync_engine, "before_cursor_execute", record)
    try:
        messages = await _process(sized)
        async with sized.sessionmaker() as session:
            batch = await index_rows(session, backend, [m.id for m in messages])
        assert len(connections) == (makers if backend == "postgresql" else 0)
        assert await _alone(sized, backend, messages) == batch
    finally:
        event.remove(sized.engine.sync_engine, "before_cursor_execute", record)
        await queue.stop()
        await sized.close()
