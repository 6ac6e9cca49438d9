"""A new post's place in its list's threads: its thread and parent (JWZ, one post at a time),
replies that were waiting for it, and threads that merge because of it.

Within a batch that `archive_memo.prefetch` prepared, the lookups are answered from memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.db.types import utcnow
from oak_maillist.mail.parse import ParsedMessage
from oak_maillist.mail.threading import ancestry, is_reply_subject, normalize_subject
from oak_maillist.models import MailingList, Message, Thread
from oak_maillist.services import archive_memo
from oak_maillist.services.archive_memo import ROOT_ID_LENGTH, Archived, Known

# Replies without threading headers join a thread with the same subject this recent.
SUBJECT_FALLBACK_WINDOW = timedelta(days=30)
# The nearest ancestors looked up for a parent (References can be very long).
MAX_ANCESTORS = 50


def id_hash(message_id: str) -> str:
    """The fixed-width key of a Message-ID (lookups, duplicates, parent references)."""
    return hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()


def ancestor_ids(parsed: ParsedMessage, message_id: str) -> list[str]:
    """The Message-IDs a post names as its ancestors, oldest first, the parent last."""
    return ancestry(parsed.in_reply_to, parsed.references, own_id=message_id)[-MAX_ANCESTORS:]


@dataclass(frozen=True)
class Placement:
    thread: Thread
    parent: Archived | None
    parent_ref_hash: str | None
    # A thread made for a post without threading headers: none was rooted at it.
    new_root: bool = False


# Statements run for every post, built once (building one costs more than running it).
_THREAD_BY_ROOT = (
    select(Thread)
    .where(Thread.list_id == bindparam("list_id"), Thread.root_message_id == bindparam("root"))
    .order_by(Thread.id)
    .limit(1)
)
_ANCESTORS = (
    select(Message.message_id_hash, Message.id, Message.thread_id)
    .add_columns(Message.thread_depth)
    .where(
        Message.list_id == bindparam("list_id"),
        Message.message_id_hash.in_(bindparam("hashes", expanding=True)),
    )
)
_WAITING_REPLIES = select(Message).where(
    Message.list_id == bindparam("list_id"),
    Message.parent_ref_hash == bindparam("hash"),
    Message.id != bindparam("id"),
)


async def _thread_by_root(session: AsyncSession, list_id: int, root: str) -> Thread | None:
    memo = archive_memo.memo(session)
    rooted = memo.rooted_at(list_id, root) if memo else None
    if rooted is not None:
        return rooted[0] if rooted else None
    return await session.scalar(
        _THREAD_BY_ROOT, {"list_id": list_id, "root": root[:ROOT_ID_LENGTH]}
    )


async def _ancestors(session: AsyncSession, list_id: int, hashes: list[str]) -> dict[str, Archived]:
    memo = archive_memo.memo(session)
    found = memo.known(list_id, hashes) if memo else None
    if found is not None:
        if any(archive_memo.unflushed(archived) for archived in found.values()):
            await session.flush()  # a parent stored by this batch: its ids are needed now
        return found
    found = {}
    for digest, message_id, thread_id, depth in await session.execute(
        _ANCESTORS, {"list_id": list_id, "hashes": hashes}
    ):
        found.setdefault(digest, Known(message_id, thread_id, depth))
    return found


async def place(
    session: AsyncSession, mlist: MailingList, message_id: str, parsed: ParsedMessage
) -> Placement:
    """Find the thread and parent of a new post (JWZ, one message at a time)."""
    ids = ancestor_ids(parsed, message_id)
    if ids:
        hashes = [id_hash(i) for i in ids]
        found = await _ancestors(session, mlist.id, hashes)
        for digest in reversed(hashes):  # the nearest known ancestor is the parent
            parent = found.get(digest)
            if parent is not None and parent.thread_id is not None:
                thread = await session.get(Thread, parent.thread_id)
                if thread is not None:
                    wanted = hashes[-1] if digest != hashes[-1] else None
                    return Placement(thread, parent, wanted)
    root = ids[0] if ids else message_id
    thread = await _thread_by_root(session, mlist.id, root)
    key = normalize_subject(parsed.subject)[:255]
    if thread is None and not ids and key and is_reply_subject(parsed.subject):
        # Subject fallback, only for a reply that carries no threading headers at all.
        thread = await session.scalar(
            select(Thread)
            .where(
                Thread.list_id == mlist.id,
                Thread.subject_key == key,
                Thread.last_activity_at >= utcnow() - SUBJECT_FALLBACK_WINDOW,
            )
            .order_by(Thread.last_activity_at.desc())
            .limit(1)
        )
    if thread is None:  # flushed by the caller once it has its first message's figures
        thread = Thread(
            list_id=mlist.id,
            root_message_id=root[:ROOT_ID_LENGTH],
            subject=parsed.subject[:998],
            subject_key=key,
            message_count=0,
        )
        session.add(thread)
        memo = archive_memo.memo(session)
        if memo is not None:
            memo.add_thread(thread)
        return Placement(thread, None, id_hash(ids[-1]) if ids else None, new_root=not ids)
    return Placement(thread, None, id_hash(ids[-1]) if ids else None)


async def _merge_into(session: AsyncSession, target: Thread, other: Thread) -> None:
    if other.id == target.id:
        return
    archive_memo.forget(session)
    await session.execute(
        update(Message).where(Message.thread_id == other.id).values(thread_id=target.id)
    )
    target.message_count += other.message_count
    target.last_activity_at = max(target.last_activity_at, other.last_activity_at)
    target.created_at = min(target.created_at, other.created_at)
    await session.delete(other)


async def _ancestor_ids(session: AsyncSession, message: Message, limit: int = 1000) -> set[int]:
    found: set[int] = set()
    parent_id = message.parent_id
    while parent_id is not None and parent_id not in found and len(found) < limit:
        found.add(parent_id)
        parent_id = await session.scalar(select(Message.parent_id).where(Message.id == parent_id))
    return found


async def _waiting_replies(session: AsyncSession, message: Message) -> list[Message]:
    memo = archive_memo.memo(session)
    waiting = memo.waiting_for(message.list_id, message.message_id_hash) if memo else None
    if waiting is not None:
        return [reply for reply in waiting if reply is not message]
    return list(
        (
            await session.scalars(
                _WAITING_REPLIES,
                {"list_id": message.list_id, "hash": message.message_id_hash, "id": message.id},
            )
        ).all()
    )


async def _rooted_elsewhere(
    session: AsyncSession, message: Message, thread: Thread
) -> list[Thread]:
    """Threads started by replies to this post as a never-seen root, but for its own."""
    memo = archive_memo.memo(session)
    rooted = memo.rooted_at(message.list_id, message.message_id) if memo else None
    if rooted is not None:
        return [other for other in rooted if other is not thread]
    return list(
        (
            await session.scalars(
                select(Thread).where(
                    Thread.list_id == message.list_id,
                    Thread.root_message_id == message.message_id[:ROOT_ID_LENGTH],
                    Thread.id != thread.id,
                )
            )
        ).all()
    )


async def adopt_waiting_replies(
    session: AsyncSession, message: Message, thread: Thread, *, new_root: bool
) -> bool:
    """Replies that arrived before this post become its children, their threads merge."""
    adopted = False
    waiting = await _waiting_replies(session, message)
    if waiting:
        await session.flush()  # the post's and its thread's ids are needed now
        archive_memo.forget(session)  # the children's parents and threads change
    ancestors = await _ancestor_ids(session, message) if waiting else set()
    for child in waiting:
        if child.id in ancestors:
            continue  # headers that claim each other as parents: keep the first link only
        child.parent_id = message.id
        child.parent_ref_hash = None
        if child.thread_id is not None and child.thread_id != thread.id:
            other = await session.get(Thread, child.thread_id)
            if other is not None:
                await _merge_into(session, thread, other)
        child.thread_id = thread.id
        adopted = True
    if new_root:
        return adopted  # place() looked for a thread rooted at this post and found none
    others = await _rooted_elsewhere(session, message, thread)
    if others:
        await session.flush()
    for other in others:
        await _merge_into(session, thread, other)
        adopted = True
    return adopted


async def renumber_depths(session: AsyncSession, thread_id: int) -> None:
    rows = (
        await session.scalars(
            select(Message).where(Message.thread_id == thread_id).order_by(Message.id)
        )
    ).all()
    by_id = {row.id: row for row in rows}
    for row in rows:  # walk up to the root; a loop of parents stops where it closes
        depth, seen, current = 0, {row.id}, row
        while current.parent_id in by_id and current.parent_id not in seen:
            current = by_id[current.parent_id]
            seen.add(current.id)
            depth += 1
        row.thread_depth = depth
