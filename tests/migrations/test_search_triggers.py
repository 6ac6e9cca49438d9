"""Revision c1e3a5b7d9f2: index() writes the CJK bigrams the triggers of c3f8a1d2e4b5 wrote,
and rows written by others stay searchable up and down."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import bindparam, delete, func, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import migrate
from oak_maillist.db.types import utcnow
from oak_maillist.models import MailingList, Message
from oak_maillist.runtime import Runtime
from oak_maillist.services import search as search_service
from oak_maillist.services.search import backlog, search
from tests.databases import create_database, drop_database, unique_name
from tests.factories import make_list, message_row

BEFORE = "b9d1f3a5c7e9"
BACKLOG_BEFORE = "d8e0f2a4b6c8"  # the revision before the search backlog's
CUT = 300_000  # bytes of a column SQLite's triggers read for CJK text
EDGES = "".join(  # each CJK range's first and last character, and their neighbours outside
    chr(code)
    for low, high in ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF))
    for code in (low - 1, low, high, high + 1)
)
# (subject, sender name, body)
TEXTS: tuple[tuple[str, str, str], ...] = (
    ("关于编码", "张伟 Wei", "我们用中文写邮件。也用英语 English, e-mail and c++."),
    ("Plain subject", "Ann Lee", "No CJK text at all: user@example.org/path.to 1.2.3"),
    ("コンピューター・ネットワーク", "", "ひらがな と カタカナー、한국어 텍스트。"),
    ("a中b文c", "李", f"{EDGES} 豈更車 \ufaff\ufb00 😀中😀文 𠀀𠀁 e\u0301中 中\u3000文"),
    ("长颈鹿@例子.公司/路径", "X", "中" * 5 + "\n" + "文字" * 3),
    ("Long", "Ann", "x" * (CUT - 2) + "中文字"),  # a CJK character cut by the limit
    ("Long", "Ann", "x" * (CUT - 3) + "中文字"),  # the next one starts at the limit
    ("Long", "Ann", "x" * (CUT - 1) + "中文"),  # the last byte read starts one
    ("Long", "Ann", "x" * (CUT - 1) + "é中文"),  # a two-byte character across it
    ("Long", "Ann", "中文 " + "x" * CUT + " 后面"),
    ("Only late CJK", "Ann", "x" * CUT + " 后面的中文"),  # a row, with nothing in it
    ("Long", "Ann", "y" * 199_999 + "中文字"),  # PostgreSQL indexes 200,000 characters
)
_ids = itertools.count(1)


@pytest.fixture
async def scratch(backend: str, settings: Settings, tmp_path: Path) -> AsyncIterator[Runtime]:
    name = unique_name("oak_cjk")
    url = create_database(backend, name, tmp_path)
    database = DatabaseSettings(url=SecretStr(url), min_connections=1)
    runtime = Runtime.from_settings(settings.model_copy(update={"database": database}))
    yield runtime
    await runtime.close()
    drop_database(backend, name)


def _message(mlist: MailingList, subject: str, name: str, body: str) -> Message:
    return message_row(
        mlist.id,
        f"<cjk-{next(_ids)}@example.org>",
        subject=subject,
        text_body=body,
        sender_email="ann@example.org",
        sender_name=name,
        received_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_ids)),
    )


async def _rows(session: AsyncSession, backend: str, ids: Sequence[int]) -> list[object]:
    """What the search index holds for each message, in the order of `ids` (None: nothing)."""
    statement = {
        "sqlite": "SELECT rowid, subject, sender, body, list FROM messages_search_cjk"
        " WHERE rowid IN :ids",
        "postgresql": "SELECT message_id, list_id, document::text, pairs::text"
        " FROM messages_search WHERE message_id IN :ids",
        "mysql": "SELECT message_id, list_id, term, weight FROM messages_search_terms"
        " WHERE message_id IN :ids ORDER BY term",
    }[backend]
    query = text(statement).bindparams(bindparam("ids", expanding=True))
    found: dict[int, list[tuple[object, ...]]] = {}
    for row in await session.execute(query, {"ids": list(ids)}):
        found.setdefault(row[0], []).append(tuple(row[1:]))
    return [found.get(message_id) for message_id in ids]


async def _found(session: AsyncSession, mlist: MailingList, query: str) -> list[int]:
    hits, _ = await search(session, list_id=mlist.id, query=query)
    return sorted(hit.id for hit in hits)


async def test_index_writes_the_rows_the_triggers_wrote(backend: str, scratch: Runtime) -> None:
    await migrate.upgrade(scratch.engine, BEFORE)
    async with scratch.sessionmaker() as session, session.begin():
        mlist = await make_list(session)
        older = [_message(mlist, *fields) for fields in TEXTS]
        session.add_all(older)
        await session.flush()
        if backend == "mysql":  # its index was written by index() already
            for message in older:
                await search_service.index(session, message, fresh=True)
    ids = [message.id for message in older]
    async with scratch.sessionmaker() as session:
        before = await _rows(session, backend, ids)
    assert before[0] is not None
    assert (before[1] is None) == (backend == "sqlite")  # no CJK text, no CJK row
    await migrate.upgrade(scratch.engine)
    async with scratch.sessionmaker() as session, session.begin():
        assert await _rows(session, backend, ids) == before  # the revision keeps them
        for message in older:
            session.add(message)
            await search_service.index(session, message)  # made again in Python
        assert await _rows(session, backend, ids) == before
        await session.execute(  # the update trigger makes them in SQL
            update(Message).where(Message.id.in_(ids)).values(text_body=Message.text_body + "")
        )
        assert await _rows(session, backend, ids) == before
        newer = [_message(mlist, *fields) for fields in TEXTS]
        session.add_all(newer)
        await session.flush()
        for message in newer:
            await search_service.index(session, message, fresh=True)  # as posting does
        assert await _rows(session, backend, [message.id for message in newer]) == before
    async with scratch.sessionmaker() as session:
        assert await _found(session, mlist, "用中文写") == [older[0].id, newer[0].id]
        assert await _found(session, mlist, "ネットワーク") == [older[2].id, newer[2].id]
        assert await _found(session, mlist, "한국어") == [older[2].id, newer[2].id]
        assert await _found(session, mlist, "豈更") == [older[3].id, newer[3].id]


async def test_rows_written_without_index_stay_searchable(backend: str, scratch: Runtime) -> None:
    """Another program inserting messages: triggers index their words (MariaDB/MySQL:
    nothing) and, on PostgreSQL, their CJK text at commit; on SQLite that waits for index()
    or a downgrade."""
    await migrate.upgrade(scratch.engine)
    async with scratch.sessionmaker() as session, session.begin():
        mlist = await make_list(session)
        written = _message(mlist, "Picnic", "Ann", "Bring an umbrella to the 公园.")
        indexed = _message(mlist, "Later", "Ann", "公园 indexed later")
        gone = _message(mlist, "Gone", "Ann", "An umbrella in the 公园, deleted at once.")
        session.add_all([written, indexed, gone])
        await session.flush()
        await session.execute(delete(Message).where(Message.id == gone.id))
    by_trigger = {"sqlite": [written.id], "postgresql": [written.id], "mysql": []}[backend]
    async with scratch.sessionmaker() as session, session.begin():
        assert await _found(session, mlist, "umbrella") == by_trigger
        cjk = [written.id, indexed.id] if backend == "postgresql" else []
        assert await _found(session, mlist, "公园") == cjk
        session.add(indexed)
        await search_service.index(session, indexed)
    async with scratch.sessionmaker() as session:
        cjk = [written.id, indexed.id] if backend == "postgresql" else [indexed.id]
        assert await _found(session, mlist, "公园") == cjk
    await migrate.downgrade(scratch.engine, BEFORE)
    async with scratch.sessionmaker() as session, session.begin():
        assert await _found(session, mlist, "公园") == sorted([*by_trigger, indexed.id])
        later = _message(mlist, "Again", "Ann", "公园 umbrella again")
        session.add(later)
        await session.flush()
        if backend == "mysql":
            await search_service.index(session, later, fresh=True)
    async with scratch.sessionmaker() as session:  # the old triggers indexed it
        assert await _found(session, mlist, "公园") == sorted([*by_trigger, indexed.id, later.id])
        assert await _found(session, mlist, "umbrella") == [*by_trigger, later.id]


async def test_posts_left_in_the_backlog_are_indexed_by_its_downgrade(
    backend: str, scratch: Runtime
) -> None:
    """Revision e4a6c8e0a2b4: PostgreSQL's trigger that indexes, at commit, a new message
    that nobody indexed leaves one in the backlog to the application; going down, what the
    backlog holds is indexed in SQL. SQLite's trigger indexes words whatever the backlog
    holds; MySQL/MariaDB's terms are the application's alone."""
    await migrate.upgrade(scratch.engine)
    async with scratch.sessionmaker() as session, session.begin():
        mlist = await make_list(session)
        queued = _message(mlist, "Queued", "Ann", "the kernel freeze starts")
        other = _message(mlist, "Another writer's", "Bob", "the kernel freeze ends")
        session.add_all([queued, other])
        await session.flush()
        await session.execute(backlog.QUEUE, {"id": queued.id, "at": utcnow()})
    words = {"sqlite": [queued.id, other.id], "postgresql": [other.id], "mysql": []}
    async with scratch.sessionmaker() as session:
        assert await _found(session, mlist, "kernel") == sorted(words[backend])
    await migrate.downgrade(scratch.engine, BACKLOG_BEFORE)
    async with scratch.sessionmaker() as session:
        assert await _found(session, mlist, "kernel") == (
            [] if backend == "mysql" else sorted([queued.id, other.id])
        )
        tables = await session.run_sync(lambda sync: inspect(sync.connection()).get_table_names())
    assert backlog.TABLE not in tables
    await migrate.upgrade(scratch.engine)
    async with scratch.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(backlog.BACKLOG)) == 0
