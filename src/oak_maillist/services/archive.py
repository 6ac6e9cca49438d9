"""The archive: a post's raw bytes and attachments on disk, its row, and its place in a thread."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import ArchiveSettings
from oak_maillist.db.engine import before_commit
from oak_maillist.db.types import utcnow
from oak_maillist.mail.parse import ParsedMessage
from oak_maillist.models import Attachment, InboundMessage, MailingList, Message
from oak_maillist.services import archive_memo
from oak_maillist.services.archive_memo import ROOT_ID_LENGTH
from oak_maillist.services.archive_threads import (
    adopt_waiting_replies,
    ancestor_ids,
    id_hash,
    place,
    renumber_depths,
)

__all__ = [
    "id_hash",
    "raw_message",
    "store",
    "stored_file",
    "synthetic_message_id",
    "text_fields",
]


def synthetic_message_id(raw: bytes, domain: str) -> str:
    """A stable Message-ID for mail that has none: a retransmission gets the same one."""
    return f"oak.{hashlib.sha256(raw).hexdigest()[:32]}@{domain}"


_temporary_names = itertools.count()


def _write_atomically(path: Path, data: bytes) -> None:
    if path.exists() and path.stat().st_size == len(data):
        return  # content-addressed: the same bytes are already there
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per write: two posts of a batch may carry the same bytes, written side by side.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{next(_temporary_names)}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


async def _keep(
    session: AsyncSession, settings: ArchiveSettings, kind: str, digest: str, data: bytes
) -> str:
    """Store bytes under their SHA-256 (on disk before the transaction commits); returns the
    path relative to the storage root."""
    relative = f"{kind}/{digest[:2]}/{digest[2:4]}/{digest}"
    path = settings.storage_path / relative
    await before_commit(session, functools.partial(_write_atomically, path, data))
    return relative


async def raw_message(
    session: AsyncSession, settings: ArchiveSettings, message: Message
) -> bytes | None:
    """A post's raw bytes, exactly as received: its inbound row's, or, for a post archived
    with a file (before raw bytes stayed in the database, or without an inbound row), the
    file's. None when neither is there any more."""
    path = stored_file(settings, message.raw_path)
    if path is not None:
        return await asyncio.to_thread(path.read_bytes)
    if message.inbound_id is None:
        return None
    raw: bytes | None = await session.scalar(
        select(InboundMessage.raw).where(InboundMessage.id == message.inbound_id)
    )
    return raw


def stored_file(settings: ArchiveSettings, relative: str) -> Path | None:
    """The absolute path of a stored file, or None when it is missing or outside the root."""
    if not relative:
        return None
    root = settings.storage_path.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def text_fields(parsed: ParsedMessage) -> dict[str, str]:
    """A post's text as its archived row holds it (what search indexes)."""
    return {
        "subject": parsed.subject[:998],
        "sender_email": parsed.sender.email[:320],
        "sender_name": parsed.sender.name[:200],
        "text_body": parsed.text,
    }


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
    """Archive one post: its row, in its thread, and its attachments on disk.

    The raw bytes stay where SMTP stored them, in the inbound row (`inbound_id`), which is
    kept; only a post without one gets a raw file under `storage_path` (see `raw_message`).
    A file per post cost more than processing it (a new inode and often a new directory,
    written and synced: bench/ingest.py archived 5 KB posts 14-32% faster without it), and
    kept every post twice.

    Within a batch that `archive_memo.prefetch` prepared, the post and its new thread may be
    left unflushed (their ids None): the caller flushes before it needs them.
    """
    raw_path = ""
    if inbound_id is None:
        raw_path = await _keep(session, settings, "raw", hashlib.sha256(raw).hexdigest(), raw)
    placement = await place(session, mlist, message_id, parsed)
    thread = placement.thread
    received = received_at or utcnow()
    thread.message_count += 1
    # A thread created for this post has no activity time yet (nor an id: it is inserted
    # once, with its figures, by the flush that inserts the post).
    last = thread.last_activity_at if thread.last_activity_at is not None else received
    thread.last_activity_at = max(last, received)
    if not placement.parent and thread.root_message_id == message_id[:ROOT_ID_LENGTH]:
        thread.subject = parsed.subject[:998]  # the root arrived: its subject names the thread
    message = Message(
        list_id=mlist.id,
        inbound_id=inbound_id,
        thread=thread,
        parent_id=placement.parent.id if placement.parent else None,
        parent_ref_hash=placement.parent_ref_hash,
        thread_order=thread.message_count,
        thread_depth=placement.parent.thread_depth + 1 if placement.parent else 0,
        message_id=message_id[:998],
        message_id_hash=id_hash(message_id),
        in_reply_to=parsed.in_reply_to[:998],
        reference_ids=ancestor_ids(parsed, message_id),
        **text_fields(parsed),
        date=parsed.date,
        received_at=received,
        html_body=parsed.html,
        raw_path=raw_path,
        size=len(raw),
        has_attachments=bool(parsed.attachments),
        defects=parsed.defects[:100],
        ai_level=ai_level,
    )
    session.add(message)
    memo = archive_memo.memo(session)
    if memo is not None:
        memo.remember(message)  # the batch flushes its posts together (or when ids are needed)
    if memo is None or parsed.attachments:
        await session.flush()
    limit = settings.max_attachment_size_mb * 1024 * 1024
    for attachment in parsed.attachments:
        content = attachment.content
        content_digest = hashlib.sha256(content).hexdigest()
        keep = len(content) <= limit
        session.add(
            Attachment(
                message_id=message.id,
                filename=attachment.filename[:255],
                content_type=attachment.content_type[:255],
                size=len(content),
                sha256=content_digest,
                content_id=attachment.content_id[:255],
                is_inline=attachment.is_inline,
                storage_path=(
                    await _keep(session, settings, "attachments", content_digest, content)
                    if keep
                    else ""
                ),
                stored=keep,
                part_index=attachment.part_index,
            )
        )
    if await adopt_waiting_replies(session, message, thread, new_root=placement.new_root):
        await session.flush()
        await renumber_depths(session, thread.id)
    return message
