"""The archive: a post's raw bytes and attachments on disk, its row, and its place in a thread."""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import ArchiveSettings
from oak_maillist.db.types import utcnow
from oak_maillist.mail.parse import ParsedMessage
from oak_maillist.mail.threading import ancestry, is_reply_subject, normalize_subject
from oak_maillist.models import Attachment, MailingList, Message, Thread

# Replies without threading headers join a thread with the same subject this recent.
SUBJECT_FALLBACK_WINDOW = timedelta(days=30)
# The nearest ancestors looked up for a parent (References can be very long).
MAX_ANCESTORS = 50
ROOT_ID_LENGTH = 255


def id_hash(message_id: str) -> str:
    """The fixed-width key of a Message-ID (lookups, duplicates, parent references)."""
    return hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()


def synthetic_message_id(raw: bytes, domain: str) -> str:
    """A stable Message-ID for mail that has none: a retransmission gets the same one."""
    return f"oak.{hashlib.sha256(raw).hexdigest()[:32]}@{domain}"


def _write_atomically(path: Path, data: bytes) -> None:
    if path.exists() and path.stat().st_size == len(data):
        return  # content-addressed: the same bytes are already there
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


async def _keep(settings: ArchiveSettings, kind: str, digest: str, data: bytes) -> str:
    """Store bytes under their SHA-256; returns the path relative to the storage root."""
    relative = f"{kind}/{digest[:2]}/{digest[2:4]}/{digest}"
    await asyncio.to_thread(_write_atomically, settings.storage_path / relative, data)
    return relative


def stored_file(settings: ArchiveSettings, relative: str) -> Path | None:
    """The absolute path of a stored file, or None when it is missing or outside the root."""
    if not relative:
        return None
    root = settings.storage_path.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


@dataclass(frozen=True)
class _Placement:
    thread: Thread
    parent: Message | None
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
_ANCESTORS = select(Message).where(
    Message.list_id == bindparam("list_id"),
    Message.message_id_hash.in_(bindparam("hashes", expanding=True)),
)
_WAITING_REPLIES = select(Message).where(
    Message.list_id == bindparam("list_id"),
    Message.parent_ref_hash == bindparam("hash"),
    Message.id != bindparam("id"),
)


async def _thread_by_root(session: AsyncSession, list_id: int, root: str) -> Thread | None:
    return await session.scalar(
        _THREAD_BY_ROOT, {"list_id": list_id, "root": root[:ROOT_ID_LENGTH]}
    )


async def _place(
    session: AsyncSession, mlist: MailingList, message_id: str, parsed: ParsedMessage
) -> _Placement:
    """Find the thread and parent of a new post (JWZ, one message at a time)."""
    ids = ancestry(parsed.in_reply_to, parsed.references, own_id=message_id)[-MAX_ANCESTORS:]
    if ids:
        hashes = [id_hash(i) for i in ids]
        found = {
            row.message_id_hash: row
            for row in await session.scalars(_ANCESTORS, {"list_id": mlist.id, "hashes": hashes})
        }
        for digest in reversed(hashes):  # the nearest known ancestor is the parent
            parent = found.get(digest)
            if parent is not None and parent.thread_id is not None:
                thread = await session.get(Thread, parent.thread_id)
                if thread is not None:
                    wanted = hashes[-1] if digest != hashes[-1] else None
                    return _Placement(thread, parent, wanted)
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
        return _Placement(thread, None, id_hash(ids[-1]) if ids else None, new_root=not ids)
    return _Placement(thread, None, id_hash(ids[-1]) if ids else None)


async def _merge_into(session: AsyncSession, target: Thread, other: Thread) -> None:
    if other.id == target.id:
        return
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


async def _adopt_waiting_replies(
    session: AsyncSession, message: Message, thread: Thread, *, new_root: bool
) -> bool:
    """Replies that arrived before this post become its children, their threads merge."""
    adopted = False
    waiting = (
        await session.scalars(
            _WAITING_REPLIES,
            {"list_id": message.list_id, "hash": message.message_id_hash, "id": message.id},
        )
    ).all()
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
        return adopted  # _place looked for a thread rooted at this post and found none
    # Threads started by replies to this post as a never-seen root join it too.
    for other in (
        await session.scalars(
            select(Thread).where(
                Thread.list_id == message.list_id,
                Thread.root_message_id == message.message_id[:ROOT_ID_LENGTH],
                Thread.id != thread.id,
            )
        )
    ).all():
        await _merge_into(session, thread, other)
        adopted = True
    return adopted


async def _renumber_depths(session: AsyncSession, thread_id: int) -> None:
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


async def store(
    session: AsyncSession,
    settings: ArchiveSettings,
    *,
    mlist: MailingList,
    raw: bytes,
    parsed: ParsedMessage,
    message_id: str,
    inbound_id: int | None,
    received_at: datetime | None = None,
    ai_level: str | None = None,
) -> Message:
    """Archive one post: raw bytes and attachments to disk, then its row, in its thread."""
    digest = hashlib.sha256(raw).hexdigest()
    raw_path = await _keep(settings, "raw", digest, raw)
    placement = await _place(session, mlist, message_id, parsed)
    thread = placement.thread
    received = received_at or utcnow()
    thread.message_count += 1
    # A thread created for this post has no activity time yet (nor an id: it is flushed
    # here, once, with its figures).
    last = thread.last_activity_at if thread.last_activity_at is not None else received
    thread.last_activity_at = max(last, received)
    if not placement.parent and thread.root_message_id == message_id[:ROOT_ID_LENGTH]:
        thread.subject = parsed.subject[:998]  # the root arrived: its subject names the thread
    if thread in session.new:
        await session.flush()
    message = Message(
        list_id=mlist.id,
        inbound_id=inbound_id,
        thread_id=thread.id,
        parent_id=placement.parent.id if placement.parent else None,
        parent_ref_hash=placement.parent_ref_hash,
        thread_order=thread.message_count,
        thread_depth=placement.parent.thread_depth + 1 if placement.parent else 0,
        message_id=message_id[:998],
        message_id_hash=id_hash(message_id),
        in_reply_to=parsed.in_reply_to[:998],
        reference_ids=ancestry(parsed.in_reply_to, parsed.references, own_id=message_id)[
            -MAX_ANCESTORS:
        ],
        subject=parsed.subject[:998],
        sender_email=parsed.sender.email[:320],
        sender_name=parsed.sender.name[:200],
        date=parsed.date,
        received_at=received,
        text_body=parsed.text,
        html_body=parsed.html,
        raw_path=raw_path,
        size=len(raw),
        has_attachments=bool(parsed.attachments),
        defects=parsed.defects[:100],
        ai_level=ai_level,
    )
    session.add(message)
    await session.flush()
    limit = settings.max_attachment_size_mb * 1024 * 1024
    for attachment in parsed.attachments:
        content_digest = hashlib.sha256(attachment.content).hexdigest()
        keep = len(attachment.content) <= limit
        session.add(
            Attachment(
                message_id=message.id,
                filename=attachment.filename[:255],
                content_type=attachment.content_type[:255],
                size=len(attachment.content),
                sha256=content_digest,
                content_id=attachment.content_id[:255],
                is_inline=attachment.is_inline,
                storage_path=(
                    await _keep(settings, "attachments", content_digest, attachment.content)
                    if keep
                    else ""
                ),
                stored=keep,
                part_index=attachment.part_index,
            )
        )
    if await _adopt_waiting_replies(session, message, thread, new_root=placement.new_root):
        await session.flush()
        await _renumber_depths(session, thread.id)
    return message
