"""PostgreSQL: a batch's search documents made on connections of their own while the batch
goes on (a second one takes a share of long texts: see MAKERS).

Making a post's tsvector and its pairs is server work: about 1 ms for a 5 KB post, 12 ms for
100 KB. In the statement that writes the index rows, just before the batch commits, the
batch waited for all of it (16 ms of a 45 ms batch of 16 posts). Started when the batch is
prepared (processing.prepare), on another connection, it is mostly done by the time the rows
are written, which then only copy it in: one process archived 5 KB posts at 308-313/s
instead of 261-271/s (bench/ingest.py). The document is exactly the one the index statement
makes (the same expression on the same text); when making it fails, or the post's text is
not what it was made from, the index statement makes it as before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from oak_maillist.logging import get_logger

log = get_logger(__name__)

# Subject, sender and body: as the message has them (inputs), and as to_tsvector reads them
# (texts, postgres.words_text).
Texts = tuple[str, str, str]

# The documents of several posts in one statement; materialized so that to_tsvector runs once
# per post (the same expression as postgres.INDEX).
MAKE = text("""
    WITH made AS MATERIALIZED (
        SELECT position, setweight(to_tsvector('english', subject), 'A')
            || setweight(to_tsvector('english', sender), 'C')
            || setweight(to_tsvector('english', body), 'D') AS document
        FROM unnest(CAST(:subjects AS text[]), CAST(:senders AS text[]), CAST(:bodies AS text[]))
            WITH ORDINALITY AS post(subject, sender, body, position)
    )
    SELECT document::text, messages_search_pairs(document)::text FROM made ORDER BY position""")

# A pool smaller than this (database.max_connections) is left to the batch and the SMTP edge:
# the connection that makes documents would wait for one of theirs, and the batch for it.
MIN_POOL = 3

# Connections that make one batch's documents at once (one more each needs one more in the
# pool): each keeps one server process busy. With one, 100 KB posts were archived at 66/s
# whatever the number of worker processes, while the server's other core idled. A second
# maker starts only for long texts waiting (SPLIT_CHARS): for 5 KB posts it cost more
# statements than it saved (archived 5% slower).
MAKERS = 2
SPLIT_CHARS = 100_000

# Session info: the documents being made for the session's posts.
_MAKING = "oak_search_documents"


@dataclass(frozen=True)
class Made:
    document: str  # the tsvector and the pairs as text, cast back when the row is written
    pairs: str


_PENDING = Made("", "")  # started, not made (yet)


@dataclass
class _Making:
    engine: AsyncEngine
    waiting: list[tuple[Texts, Texts]] = field(default_factory=list)
    made: dict[Texts, Made] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    makers: int = 0  # tasks that take what is waiting (each says so before it ends)


def start(session: AsyncSession, inputs: Texts, texts: Texts) -> None:
    """Have the document of a post with these inputs made from `texts` meanwhile (posts that
    arrive while a statement runs go together in the next)."""
    making: _Making | None = session.info.get(_MAKING)
    if making is None:
        bind = session.bind
        assert isinstance(bind, AsyncEngine)  # noqa: S101 - sessions are bound to the engine
        if _pool_size(bind) < MIN_POOL:
            return
        making = session.info[_MAKING] = _Making(bind)
    if inputs in making.made:  # a post sent to two lists: one document
        return
    making.made[inputs] = _PENDING
    making.waiting.append((inputs, texts))
    if making.makers == 0 or (
        making.makers < min(MAKERS, _pool_size(making.engine) - MIN_POOL + 1)
        and sum(len(texts[2]) for _, texts in making.waiting) >= SPLIT_CHARS
    ):
        making.makers += 1
        task = asyncio.create_task(_make(making))
        task.add_done_callback(_retrieve)
        making.tasks.append(task)


async def made(session: AsyncSession, inputs: Texts) -> Made | None:
    """The document made from these inputs, once it is; None when none was started for
    them, or making it failed."""
    making: _Making | None = session.info.get(_MAKING)
    if making is None:
        return None
    if running := [task for task in making.tasks if not task.done()]:
        await asyncio.wait(running)
    for task in making.tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("search_documents_failed", error=f"{type(error).__name__}: {error}")
    making.tasks = []
    found = making.made.get(inputs)
    return None if found is None or found is _PENDING else found


async def _make(making: _Making) -> None:
    """Make what is waiting, a share at a time (the makers split what waits between them),
    until nothing does."""
    taking = True
    try:
        async with making.engine.connect() as connection:
            while making.waiting:
                share = -(-len(making.waiting) // making.makers)
                posts, making.waiting = making.waiting[:share], making.waiting[share:]
                rows = await connection.execute(
                    MAKE,
                    {
                        "subjects": [texts[0] for _, texts in posts],
                        "senders": [texts[1] for _, texts in posts],
                        "bodies": [texts[2] for _, texts in posts],
                    },
                )
                for (inputs, _), (document, pairs) in zip(posts, rows, strict=True):
                    making.made[inputs] = Made(document, pairs)
            making.makers -= 1  # nothing waits: the next post may start a task of its own
            taking = False
    finally:
        if taking:
            making.makers -= 1


def _retrieve(task: asyncio.Task[None]) -> None:
    """A batch that failed before writing its rows never asks: its error is not news."""
    if not task.cancelled():
        task.exception()


def _pool_size(engine: AsyncEngine) -> int:
    size = getattr(engine.sync_engine.pool, "size", None)
    return size() if callable(size) else 0
