"""Archive search: one query syntax over each database's own index, ranked hits with
highlighted snippets.

Query syntax (see query.py): words are ANDed, "quoted phrases" match words in order, -word and
-"phrase" exclude, word* matches a prefix. Latin-script words match their English stem
(SQLite porter, PostgreSQL's english configuration; MariaDB/MySQL, which has no stemmer,
matches words reduced by stem_prefix: packages finds package and packaging). CJK text (kana,
hanzi/kanji, hangul) matches as a substring: 中文 finds 我们用中文写邮件.

One module per backend: SQLite FTS5 and PostgreSQL tsvector (revision c3f8a1d2e4b5), whose
CJK bigrams index() makes in Python when a message is archived (revision c1e3a5b7d9f2;
triggers index the rest, and what other writers insert or change); MySQL/MariaDB uses a word
index of ours (revision b9d1f3a5c7e9) that index() writes. Posts that the processing of
received mail archives are indexed right after their batch commits, from a backlog that a
sweeper works off after a crash, except on SQLite (backlog.py).

Relevance: a subject hit outweighs a body hit, more occurrences outweigh fewer. When a query
matches more than RANK_WINDOW messages of a list, the newest RANK_WINDOW of them are ranked
and the older ones follow newest first; the total stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oak_maillist.db.engine import transaction
from oak_maillist.db.types import utcnow
from oak_maillist.logging import get_logger
from oak_maillist.models import Message
from oak_maillist.services.search import backlog, pending
from oak_maillist.services.search.mysql import MysqlBackend
from oak_maillist.services.search.postgres import PostgresBackend
from oak_maillist.services.search.query import (
    ParsedQuery,
    Scored,
    SearchQueryInvalid,
    Term,
    parse_query,
    stem_prefix,
)
from oak_maillist.services.search.snippets import highlighter, mark, snippet
from oak_maillist.services.search.sqlite import SqliteBackend

__all__ = [
    "SearchHit",
    "SearchQueryInvalid",
    "Term",
    "defer",
    "highlighter",
    "index",
    "index_backlog",
    "index_new",
    "mark",
    "parse_query",
    "search",
    "snippet",
    "stem_prefix",
    "sweep_backlog",
]

log = get_logger(__name__)

MAX_PER_PAGE = 100
SWEEP_BATCH, SWEEP_MOST = 50, 5_000  # posts per transaction and per run of the sweeper
RANK_WINDOW = 1000
SNIPPET_SOURCE_CHARS = 50_000  # a match further into a body gives a snippet from its start


@dataclass(frozen=True)
class SearchHit:
    id: int
    thread_id: int | None
    subject: str
    sender_email: str
    sender_name: str
    date: datetime | None
    received_at: datetime
    snippet: str  # HTML-escaped, matches wrapped in <mark>
    subject_highlighted: str
    rank: float


class SearchBackend(Protocol):
    async def index(self, session: AsyncSession, message: Message, *, fresh: bool) -> None:
        """Make a stored message searchable, again when its text or list changed (`fresh`:
        it was just stored and has no index entries yet)."""
        ...

    async def matches(
        self, session: AsyncSession, list_id: int, query: ParsedQuery, limit: int, offset: int
    ) -> tuple[list[Scored], int]:
        """Matching messages newest first from `offset`, with relevance; and their total."""
        ...


BACKENDS: dict[str, SearchBackend] = {
    "sqlite": SqliteBackend(),
    "postgresql": PostgresBackend(),
    "mysql": MysqlBackend(),
    "mariadb": MysqlBackend(),
}


async def index(session: AsyncSession, message: Message, *, fresh: bool = False) -> None:
    """Make a message searchable: `fresh` right after it was stored (flushed), or again after
    changing its subject, sender, text or list (they are read from `message`, not the row)."""
    await BACKENDS[session.get_bind().dialect.name].index(session, message, fresh=fresh)


def defer(session: AsyncSession, queued: list[Message]) -> None:
    """See backlog.defer: posts the session archives are indexed once it has committed."""
    backlog.defer(session, queued)


async def index_new(session: AsyncSession, message: Message) -> None:
    """Make a post just archived (flushed) searchable: now, or, in a session that defers
    indexing (backlog.defer), from the backlog once the session has committed."""
    if not await backlog.queue(session, message):
        await index(session, message, fresh=True)


async def index_backlog(
    sessionmaker: async_sessionmaker[AsyncSession], messages: Sequence[Message]
) -> None:
    """Index the posts a deferring session queued, once it has committed, in one transaction
    that takes them out of the backlog. A failure is logged and left to the sweeper (so is a
    post that the sweeper indexed first: on MySQL/MariaDB its terms are then already there).

    The backlog rows are not locked first: on MariaDB, a locking read of them waited for the
    next batch's inserts and took indexing 5 KB posts from 13 to 20 ms each."""
    if not messages:
        return
    try:
        async with transaction(sessionmaker) as session:
            pending.collect(session)
            for message in messages:
                await index(session, message, fresh=True)
            await pending.write_collected(session)
            await backlog.drop(session, sorted(message.id for message in messages))
    except Exception as error:
        log.warning(
            "search_index_deferred",
            messages=len(messages),
            error=f"{type(error).__name__}: {error}",
        )


async def sweep_backlog(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    grace: timedelta,
    batch: int = SWEEP_BATCH,
    most: int = SWEEP_MOST,
) -> int:
    """Index the posts queued in the backlog longer than `grace` ago (their batch could not),
    `batch` per transaction and at most `most`; messages deleted meanwhile only leave it.
    How many were taken out."""
    swept = 0
    while swept < most:
        async with transaction(sessionmaker) as session:
            ids = await backlog.due(session, queued_before=utcnow() - grace, limit=batch)
            if not ids:  # the usual case (and always on SQLite): nothing to read
                break
            messages = (await session.scalars(select(Message).where(Message.id.in_(ids)))).all()
            pending.collect(session)
            for message in messages:  # it may have been indexed again since (an edit)
                await index(session, message, fresh=False)
            await pending.write_collected(session)
            await backlog.drop(session, ids)
        swept += len(ids)
        if len(ids) < batch:
            break
    return swept


async def search(
    session: AsyncSession, *, list_id: int, query: str, page: int = 1, per_page: int = 20
) -> tuple[list[SearchHit], int]:
    """Messages of one list that match `query`: one page of hits best first, and the total.

    Raises SearchQueryInvalid when the query holds no word to look for.
    """
    parsed = parse_query(query)
    backend = BACKENDS[session.get_bind().dialect.name]
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    offset = (max(page, 1) - 1) * per_page
    if offset >= RANK_WINDOW:
        chosen, total = await backend.matches(session, list_id, parsed, per_page, offset)
    else:
        window, total = await backend.matches(session, list_id, parsed, RANK_WINDOW, 0)
        ranked = sorted(window, key=lambda scored: (-scored.rank, -scored.id))
        chosen = ranked[offset : offset + per_page]
        missing = per_page - len(chosen)
        if missing > 0 and total > len(window):  # the page reaches past the ranked window
            tail, _ = await backend.matches(session, list_id, parsed, missing, len(window))
            chosen += tail
    return await _hits(session, list_id, chosen, parsed), total


async def _hits(
    session: AsyncSession, list_id: int, chosen: Sequence[Scored], parsed: ParsedQuery
) -> list[SearchHit]:
    if not chosen:
        return []
    rows = await session.execute(
        select(
            Message.id,
            Message.thread_id,
            Message.subject,
            Message.sender_email,
            Message.sender_name,
            Message.date,
            Message.received_at,
            func.substr(Message.text_body, 1, SNIPPET_SOURCE_CHARS),
            Message.list_id,
        ).where(Message.id.in_([scored.id for scored in chosen]))
    )
    # The list is checked here, not in SQL: SQLite would rather scan the list's index.
    found = {row[0]: row for row in rows if row[8] == list_id}
    pattern = highlighter(parsed.include)
    return [
        SearchHit(
            id=row[0],
            thread_id=row[1],
            subject=row[2],
            sender_email=row[3],
            sender_name=row[4],
            date=row[5],
            received_at=row[6],
            snippet=snippet(row[7] or "", pattern),
            subject_highlighted=mark(row[2], pattern),
            rank=scored.rank,
        )
        for scored in chosen
        if (row := found.get(scored.id)) is not None
    ]
