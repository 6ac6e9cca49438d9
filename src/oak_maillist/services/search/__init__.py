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
index of ours (revision b9d1f3a5c7e9) that index() writes.

Relevance: a subject hit outweighs a body hit, more occurrences outweigh fewer. When a query
matches more than RANK_WINDOW messages of a list, the newest RANK_WINDOW of them are ranked
and the older ones follow newest first; the total stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import Message
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
    "highlighter",
    "index",
    "mark",
    "parse_query",
    "search",
    "snippet",
    "start",
    "stem_prefix",
]

MAX_PER_PAGE = 100
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


def start(session: AsyncSession, fields: Mapping[str, str]) -> None:
    """Begin making a post about to be archived with these text fields
    (`archive.text_fields`) searchable while its batch goes on, where the database does that
    work (PostgreSQL makes its document on a connection of its own); `index` finishes it."""
    backend = BACKENDS[session.get_bind().dialect.name]
    if isinstance(backend, PostgresBackend):
        backend.start(session, fields)


async def index(session: AsyncSession, message: Message, *, fresh: bool = False) -> None:
    """Make a message searchable: `fresh` right after it was stored (flushed), or again after
    changing its subject, sender, text or list (they are read from `message`, not the row)."""
    await BACKENDS[session.get_bind().dialect.name].index(session, message, fresh=fresh)


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
