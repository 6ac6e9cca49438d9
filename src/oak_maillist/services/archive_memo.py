"""What a batch of posts asks the archive, read with one query per question for the batch.

Before a post is stored, the posting chain and the archive ask: is its Message-ID archived
already (the duplicate rule)? Which archived messages are its ancestors? Which threads are
rooted at its root, or at itself? Which replies wait for it? Asked one post at a time, that is
four queries per post. Processing a batch in one transaction, `prefetch` reads the answers for
every post of the batch at once, and `remember` adds each post as it is stored, so that later
posts of the batch see the earlier ones (a reply right behind its parent, a second copy of the
same Message-ID).

The memo answers only for the keys it was asked to read; any other key goes to the database
as before. It lives in the session (one transaction); the rare paths that rewrite archived
rows (a reply adopted by a late parent, threads merged) drop it, and the rest of the batch
asks the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import Message, Thread

MEMO = "oak_archive_memo"
ROOT_ID_LENGTH = 255


@dataclass(frozen=True)
class Known:
    """An archived message as far as duplicates and parents need it."""

    id: int
    thread_id: int | None
    thread_depth: int


# An archived message, or one stored by this batch (not flushed yet while its id is None).
Archived = Known | Message


@dataclass(frozen=True)
class Want:
    """One post about to go through a list's chain: what it will ask."""

    list_id: int
    message_hash: str  # id_hash of its Message-ID
    message_id: str
    ancestor_hashes: tuple[str, ...]  # id_hash of each ancestor (archive.MAX_ANCESTORS)
    root: str  # the id its thread would be rooted at


@dataclass
class ArchiveMemo:
    # (list id, Message-ID hash) -> the first archived message with it, None: none is
    messages: dict[tuple[int, str], Archived | None] = field(default_factory=dict)
    # (list id, root Message-ID) -> the threads rooted there, oldest first
    threads: dict[tuple[int, str], list[Thread]] = field(default_factory=dict)
    # (list id, Message-ID hash) -> replies kept waiting for that parent
    waiting: dict[tuple[int, str], list[Message]] = field(default_factory=dict)
    # Threads of the ancestors found (the identity map holds objects weakly: keep them)
    loaded: list[Thread] = field(default_factory=list)

    def known(self, list_id: int, hashes: Iterable[str]) -> dict[str, Archived] | None:
        """The archived ones among `hashes` (None: not all of them were read)."""
        found: dict[str, Archived] = {}
        for digest in hashes:
            key = (list_id, digest)
            if key not in self.messages:
                return None
            hit = self.messages[key]
            if hit is not None:
                found[digest] = hit
        return found

    def rooted_at(self, list_id: int, root: str) -> list[Thread] | None:
        """The threads rooted at `root`, oldest first (None: not read)."""
        return self.threads.get((list_id, root[:ROOT_ID_LENGTH]))

    def waiting_for(self, list_id: int, digest: str) -> list[Message] | None:
        return self.waiting.get((list_id, digest))

    def add_thread(self, thread: Thread) -> None:
        rooted = self.threads.get((thread.list_id, thread.root_message_id))
        if rooted is not None:
            rooted.append(thread)

    def remember(self, message: Message) -> None:
        """A post stored in this transaction (flushed or not): later posts of the batch find
        it."""
        key = (message.list_id, message.message_id_hash)
        if key in self.messages and self.messages[key] is None:
            self.messages[key] = message
        if message.parent_ref_hash is not None:
            waiting = self.waiting.get((message.list_id, message.parent_ref_hash))
            if waiting is not None:
                waiting.append(message)


def unflushed(archived: Archived) -> bool:
    """Stored by this batch and not flushed yet: it has no id (nor a thread id) so far."""
    return isinstance(archived, Message) and inspect(archived).pending


def memo(session: AsyncSession) -> ArchiveMemo | None:
    found: ArchiveMemo | None = session.info.get(MEMO)
    return found


def forget(session: AsyncSession) -> None:
    """Archived rows were rewritten (adopted replies, merged threads): ask the database."""
    session.info.pop(MEMO, None)


# Built once (building a statement costs more than running it here).
_ARCHIVED = (
    select(Message.list_id, Message.message_id_hash, Message.id, Message.thread_id)
    .add_columns(Message.thread_depth)
    .where(
        Message.list_id.in_(bindparam("lists", expanding=True)),
        Message.message_id_hash.in_(bindparam("hashes", expanding=True)),
    )
    .order_by(Message.id)
)
_THREADS = (
    select(Thread)
    .where(
        or_(
            Thread.list_id.in_(bindparam("lists", expanding=True))
            & Thread.root_message_id.in_(bindparam("roots", expanding=True)),
            Thread.id.in_(bindparam("ids", expanding=True)),
        )
    )
    .order_by(Thread.id)
)
_WAITING = (
    select(Message)
    .where(
        Message.list_id.in_(bindparam("lists", expanding=True)),
        Message.parent_ref_hash.in_(bindparam("hashes", expanding=True)),
    )
    .order_by(Message.id)
)


async def prefetch(session: AsyncSession, wants: Iterable[Want]) -> ArchiveMemo:
    """Read what the posts of `wants` will ask, with three queries, into the session's memo."""
    wants = list(wants)
    store = ArchiveMemo()
    session.info[MEMO] = store
    if not wants:
        return store
    list_ids = {want.list_id for want in wants}
    hashes = {h for want in wants for h in (want.message_hash, *want.ancestor_hashes)}
    for want in wants:
        for digest in (want.message_hash, *want.ancestor_hashes):
            store.messages[(want.list_id, digest)] = None
        for root in (want.root, want.message_id):
            store.threads[(want.list_id, root[:ROOT_ID_LENGTH])] = []
        store.waiting[(want.list_id, want.message_hash)] = []
    lists = list(list_ids)
    rows = await session.execute(_ARCHIVED, {"lists": lists, "hashes": list(hashes)})
    for list_id, digest, message_id, thread_id, depth in rows:
        key = (list_id, digest)
        if key in store.messages and store.messages[key] is None:
            store.messages[key] = Known(message_id, thread_id, depth)
    parent_threads = [k.thread_id for k in store.messages.values() if k and k.thread_id]
    roots = list({root for _list_id, root in store.threads})
    # (-1: no thread has it, and the statement keeps one shape)
    params = {"lists": lists, "roots": roots, "ids": parent_threads or [-1]}
    for thread in await session.scalars(_THREADS, params):
        store.loaded.append(thread)
        rooted = store.threads.get((thread.list_id, thread.root_message_id))
        if rooted is not None:
            rooted.append(thread)
    own = list({want.message_hash for want in wants})
    for reply in await session.scalars(_WAITING, {"lists": lists, "hashes": own}):
        waiting = store.waiting.get((reply.list_id, reply.parent_ref_hash or ""))
        if waiting is not None:
            waiting.append(reply)
    return store
