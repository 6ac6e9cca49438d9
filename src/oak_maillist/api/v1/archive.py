"""The list archive: messages, threads, raw downloads, attachments, mbox and search.

Public lists with a public archive are readable without login; other archives by the list's
subscribers (signed in with the subscribed address), moderators, owners and administrators.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from oak_maillist.api.deps import (
    OPTIONAL_AUTH,
    IdPath,
    OptionalUser,
    PageDep,
    SessionDep,
    SettingsDep,
)
from oak_maillist.api.v1.schemas.archive import (
    AttachmentOut,
    MessageDetail,
    MessageSummary,
    SearchHitOut,
    ThreadNodeOut,
    ThreadOut,
    ThreadPosition,
    ThreadTreeOut,
)
from oak_maillist.api.v1.schemas.common import NO_CONTROL_CHARS, Page
from oak_maillist.models import MailingList, Message, Thread
from oak_maillist.services import archive_reading, search
from oak_maillist.services.access import readable_archive

router = APIRouter(prefix="/lists/{list_id}", tags=["archive"])

MBOX_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/mbox": {"schema": {"type": "string"}}}}
}
RAW_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"message/rfc822": {"schema": {"type": "string"}}}}
}
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}
}
# Types a browser would render or run in our origin are downloaded as opaque bytes.
SAFE_INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)


async def _archive_list(
    list_id: IdPath, session: SessionDep, settings: SettingsDep, principal: OptionalUser
) -> MailingList:
    user = principal.user if principal else None
    return await readable_archive(session, list_id, user, archiving=settings.archive.enabled)


ArchiveList = Annotated[MailingList, Depends(_archive_list)]


def _summary(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "thread_id": message.thread_id,
        "parent_id": message.parent_id,
        "subject": message.subject,
        "sender_email": message.sender_email,
        "sender_name": message.sender_name,
        "date": message.date,
        "received_at": message.received_at,
        "has_attachments": message.has_attachments,
        "size": message.size,
        "preview": " ".join(message.text_body[:400].split())[:200],
    }


def _thread_out(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "subject": thread.subject,
        "message_count": thread.message_count,
        "created_at": thread.created_at,
        "last_activity_at": thread.last_activity_at,
    }


def _filename(name: str, fallback: str) -> str:
    cleaned = "".join(c for c in name if c.isalnum() or c in "._- ")[:100].strip()
    return cleaned or fallback


@router.get("/messages", openapi_extra=OPTIONAL_AUTH)
async def list_messages(
    mlist: ArchiveList, session: SessionDep, page: PageDep
) -> Page[MessageSummary]:
    """Archived posts, newest first."""
    rows, total = await archive_reading.list_messages(
        session, mlist.id, offset=page.offset, limit=page.per_page
    )
    items = [MessageSummary(**_summary(m)) for m in rows]
    return Page(items=items, total=total, page=page.page, per_page=page.per_page)


@router.get("/messages/{message_id}", openapi_extra=OPTIONAL_AUTH)
async def get_message(mlist: ArchiveList, message_id: IdPath, session: SessionDep) -> MessageDetail:
    """One post: headers, text, sanitised HTML, attachments and its place in the thread."""
    message = await archive_reading.get_message(session, mlist.id, message_id)
    position = None
    if message.thread_id is not None:
        thread = await session.get(Thread, message.thread_id)
        if thread is not None:
            order = archive_reading.flatten(await archive_reading.thread_tree(session, thread))
            ids = [node.message.id for node in order]
            index = ids.index(message.id) if message.id in ids else 0
            position = ThreadPosition(
                thread_id=thread.id,
                subject=thread.subject,
                message_count=thread.message_count,
                index=index,
                depth=order[index].depth if order else 0,
                previous_id=ids[index - 1] if index > 0 else None,
                next_id=ids[index + 1] if index + 1 < len(ids) else None,
            )
    files = await archive_reading.attachments(session, message.id)
    return MessageDetail(
        **_summary(message),
        message_id=message.message_id,
        in_reply_to=message.in_reply_to,
        references=message.reference_ids,
        text=message.text_body,
        html=message.html_body,
        attachments=[AttachmentOut.model_validate(a, from_attributes=True) for a in files],
        defects=message.defects,
        thread=position,
    )


@router.get(
    "/messages/{message_id}/raw",
    openapi_extra=OPTIONAL_AUTH,
    response_class=Response,
    responses=RAW_RESPONSE,
)
async def raw_message(
    mlist: ArchiveList, message_id: IdPath, session: SessionDep, settings: SettingsDep
) -> Response:
    """The message exactly as received (RFC 822 bytes)."""
    message = await archive_reading.get_message(session, mlist.id, message_id)
    data = await archive_reading.raw_bytes(session, settings.archive, message)
    return Response(
        data,
        media_type="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="message-{message.id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/messages/{message_id}/attachments/{attachment_id}",
    openapi_extra=OPTIONAL_AUTH,
    response_class=Response,
    responses=FILE_RESPONSE,
)
async def download_attachment(
    mlist: ArchiveList,
    message_id: IdPath,
    attachment_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    inline: Annotated[bool, Query(description="Show images and PDFs in the browser")] = False,
) -> Response:
    """An attachment's bytes; anything a browser could run is served as a download."""
    message = await archive_reading.get_message(session, mlist.id, message_id)
    attachment, data = await archive_reading.attachment_file(
        session, settings.archive, message, attachment_id
    )
    media = attachment.content_type.lower()
    safe = media in SAFE_INLINE_TYPES
    disposition = "inline" if inline and safe else "attachment"
    name = _filename(attachment.filename, f"attachment-{attachment.id}")
    return Response(
        data,
        media_type=media if safe else "application/octet-stream",
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


@router.get("/threads", openapi_extra=OPTIONAL_AUTH)
async def list_threads(mlist: ArchiveList, session: SessionDep, page: PageDep) -> Page[ThreadOut]:
    """Threads with their message counts, most recently active first."""
    rows, total = await archive_reading.list_threads(
        session, mlist.id, offset=page.offset, limit=page.per_page
    )
    items = [ThreadOut(**_thread_out(t)) for t in rows]
    return Page(items=items, total=total, page=page.page, per_page=page.per_page)


# JSON nests replies no deeper than this (the serialiser gives up near 255 levels, and a long
# back-and-forth nests thousands deep): replies further down are listed under their ancestor
# at this depth, in reading order, each with its true `depth` and `parent_id`.
MAX_NESTING = 64


def _tree_out(roots: list[archive_reading.Node]) -> list[ThreadNodeOut]:
    """The thread's trees for JSON, built without recursion, nesting at most MAX_NESTING deep."""
    out: list[ThreadNodeOut] = []
    stack = [(root, out, 0) for root in reversed(roots)]
    while stack:
        node, siblings, level = stack.pop()
        message = node.message
        item = ThreadNodeOut(
            id=message.id,
            parent_id=message.parent_id if node.depth else None,
            subject=message.subject,
            sender_email=message.sender_email,
            sender_name=message.sender_name,
            date=message.date or message.received_at,
            depth=node.depth,
            children=[],
        )
        siblings.append(item)
        below, next_level = (
            (item.children, level + 1) if level < MAX_NESTING - 1 else (siblings, level)
        )
        stack.extend((child, below, next_level) for child in reversed(node.children))
    return out


@router.get("/threads/{thread_id}", openapi_extra=OPTIONAL_AUTH)
async def get_thread(mlist: ArchiveList, thread_id: IdPath, session: SessionDep) -> ThreadTreeOut:
    """One thread as a tree of posts (siblings in date order)."""
    thread = await archive_reading.get_thread(session, mlist.id, thread_id)
    roots = await archive_reading.thread_tree(session, thread)
    return ThreadTreeOut(**_thread_out(thread), roots=_tree_out(roots))


def _mbox_response(body: Any, filename: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="application/mbox",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/mbox",
    openapi_extra=OPTIONAL_AUTH,
    response_class=StreamingResponse,
    responses=MBOX_RESPONSE,
)
async def list_mbox(
    mlist: ArchiveList, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """The whole archive as one mbox file (RFC 4155, mboxrd quoting), streamed."""
    body = archive_reading.mbox(session, settings.archive, list_id=mlist.id)
    return _mbox_response(body, f"{mlist.local_part}.mbox")


@router.get(
    "/threads/{thread_id}/mbox",
    openapi_extra=OPTIONAL_AUTH,
    response_class=StreamingResponse,
    responses=MBOX_RESPONSE,
)
async def thread_mbox(
    mlist: ArchiveList, thread_id: IdPath, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """One thread as an mbox file."""
    thread = await archive_reading.get_thread(session, mlist.id, thread_id)
    body = archive_reading.mbox(session, settings.archive, list_id=mlist.id, thread_id=thread.id)
    return _mbox_response(body, f"{mlist.local_part}-thread-{thread.id}.mbox")


@router.get("/search", openapi_extra=OPTIONAL_AUTH)
async def search_archive(
    mlist: ArchiveList,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=500,
            pattern=NO_CONTROL_CHARS,
            description='Words, "phrases", -not',
        ),
    ],
) -> Page[SearchHitOut]:
    """Full-text search of the archive, best matches first, with highlighted snippets."""
    hits, total = await search.search(
        session, list_id=mlist.id, query=q, page=page.page, per_page=page.per_page
    )
    items = [SearchHitOut.model_validate(hit, from_attributes=True) for hit in hits]
    return Page(items=items, total=total, page=page.page, per_page=page.per_page)
