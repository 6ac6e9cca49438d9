"""Reading the archive: pages of posts and threads, one thread as a tree, raw bytes, mbox."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import ArchiveSettings
from oak_maillist.errors import NotFoundError
from oak_maillist.models import Attachment, InboundMessage, Message, Thread
from oak_maillist.services.archive import raw_message, stored_file

MBOX_BATCH = 100
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


class MessageNotFoundError(NotFoundError):
    code = "message_not_found"
    template = "Message {message_id} does not exist in this list"


class ThreadNotFoundError(NotFoundError):
    code = "thread_not_found"
    template = "Thread {thread_id} does not exist in this list"


class AttachmentNotFoundError(NotFoundError):
    code = "attachment_not_found"
    template = "Attachment {attachment_id} does not exist or was not kept"


async def list_messages(
    session: AsyncSession, list_id: int, *, offset: int, limit: int
) -> tuple[list[Message], int]:
    """Posts of a list, newest first."""
    total = await session.scalar(select(func.count(Message.id)).where(Message.list_id == list_id))
    rows = await session.scalars(
        select(Message)
        .where(Message.list_id == list_id)
        .order_by(Message.received_at.desc(), Message.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total or 0


async def get_message(session: AsyncSession, list_id: int, message_id: int) -> Message:
    message = await session.get(Message, message_id)
    if message is None or message.list_id != list_id:
        raise MessageNotFoundError(message_id=message_id)
    return message


async def attachments(session: AsyncSession, message_id: int) -> list[Attachment]:
    rows = await session.scalars(
        select(Attachment)
        .where(Attachment.message_id == message_id)
        .order_by(Attachment.part_index)
    )
    return list(rows)


async def attachment_file(
    session: AsyncSession, settings: ArchiveSettings, message: Message, attachment_id: int
) -> tuple[Attachment, bytes]:
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or attachment.message_id != message.id:
        raise AttachmentNotFoundError(attachment_id=attachment_id)
    path = stored_file(settings, attachment.storage_path) if attachment.stored else None
    if path is None:
        raise AttachmentNotFoundError(attachment_id=attachment_id)
    return attachment, await asyncio.to_thread(path.read_bytes)


async def raw_bytes(session: AsyncSession, settings: ArchiveSettings, message: Message) -> bytes:
    raw = await raw_message(session, settings, message)
    if raw is None:
        raise MessageNotFoundError(message_id=message.id)
    return raw


async def list_threads(
    session: AsyncSession, list_id: int, *, offset: int, limit: int
) -> tuple[list[Thread], int]:
    """Threads of a list, most recently active first."""
    total = await session.scalar(select(func.count(Thread.id)).where(Thread.list_id == list_id))
    rows = await session.scalars(
        select(Thread)
        .where(Thread.list_id == list_id)
        .order_by(Thread.last_activity_at.desc(), Thread.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total or 0


async def get_thread(session: AsyncSession, list_id: int, thread_id: int) -> Thread:
    thread = await session.get(Thread, thread_id)
    if thread is None or thread.list_id != list_id:
        raise ThreadNotFoundError(thread_id=thread_id)
    return thread


@dataclass
class Node:
    message: Message
    depth: int = 0
    children: list[Node] = field(default_factory=list)


def _moment(message: Message) -> datetime:
    return message.date or message.received_at


async def thread_tree(session: AsyncSession, thread: Thread) -> list[Node]:
    """The thread's posts as trees (several roots when the common parent never arrived),
    siblings in date order."""
    rows = (await session.scalars(select(Message).where(Message.thread_id == thread.id))).all()
    nodes = {row.id: Node(row) for row in rows}
    parents = {row.id: row.parent_id for row in rows if row.parent_id in nodes}
    roots: list[Node] = []
    for node in nodes.values():
        parent_id = parents.get(node.message.id)
        if parent_id is not None and _in_cycle(parents, node.message.id):
            parent_id = None  # posts whose parents point at each other: each starts a tree
        (nodes[parent_id].children if parent_id is not None else roots).append(node)

    # Without recursion: a long back-and-forth nests thousands deep.
    pending = [(roots, 0)]
    while pending:
        level, depth = pending.pop()
        level.sort(key=lambda n: (_moment(n.message), n.message.id))
        for node in level:
            node.depth = depth
            pending.append((node.children, depth + 1))
    return roots


def _in_cycle(parents: dict[int, int], start: int) -> bool:
    seen, current = {start}, parents.get(start)
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def flatten(roots: list[Node]) -> list[Node]:
    """Depth-first reading order."""
    ordered: list[Node] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(reversed(node.children))
    return ordered


def mbox_entry(raw: bytes, sender: str, moment: datetime) -> bytes:
    """One message in mboxrd form (RFC 4155): a From_ line, LF line ends, From quoting."""
    envelope = (sender or "MAILER-DAEMON").replace(" ", "_")
    stamp = moment.astimezone(UTC).strftime("%a %b %e %H:%M:%S %Y")
    body = raw.replace(b"\r\n", b"\n")
    body = _FROM_LINE.sub(rb">\1", body)
    if not body.endswith(b"\n"):
        body += b"\n"
    return f"From {envelope} {stamp}\n".encode() + body + b"\n"


async def mbox(
    session: AsyncSession,
    settings: ArchiveSettings,
    *,
    list_id: int,
    thread_id: int | None = None,
) -> AsyncIterator[bytes]:
    """A list's (or one thread's) archive as mbox, oldest first, read in batches."""
    last_id = 0
    while True:
        query = select(Message).where(Message.list_id == list_id, Message.id > last_id)
        if thread_id is not None:
            query = query.where(Message.thread_id == thread_id)
        batch = (await session.scalars(query.order_by(Message.id).limit(MBOX_BATCH))).all()
        if not batch:
            return
        raws = await _inbound_raws(session, [m.inbound_id for m in batch if not m.raw_path])
        for message in batch:
            last_id = message.id
            raw = (
                raws.get(message.inbound_id)
                if not message.raw_path
                else await raw_message(session, settings, message)
            )
            if raw is not None:
                yield mbox_entry(raw, message.sender_email, _moment(message))


async def _inbound_raws(session: AsyncSession, ids: list[int | None]) -> dict[int | None, bytes]:
    """The raw bytes of these inbound rows, with one query."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = await session.execute(
        select(InboundMessage.id, InboundMessage.raw).where(InboundMessage.id.in_(wanted))
    )
    return {row[0]: row[1] for row in rows}
