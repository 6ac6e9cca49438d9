"""The archive as the API shows it; HTML bodies are sanitised before they are stored."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class MessageSummary(BaseModel):
    id: int
    thread_id: int | None
    parent_id: int | None
    subject: str
    sender_email: str
    sender_name: str
    date: datetime | None
    received_at: datetime
    has_attachments: bool
    size: int
    preview: str = Field(description="The first 200 characters of the text")


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str
    is_inline: bool
    stored: bool = Field(description="False when larger than archive.max_attachment_size_mb")


class ThreadPosition(BaseModel):
    thread_id: int
    subject: str
    message_count: int
    index: int = Field(description="0-based place in the thread's reading order")
    depth: int
    previous_id: int | None
    next_id: int | None


class MessageDetail(MessageSummary):
    message_id: str
    in_reply_to: str
    references: list[str]
    text: str
    html: str | None = Field(description="Sanitised; show it in a sandboxed iframe")
    attachments: list[AttachmentOut]
    defects: list[str]
    thread: ThreadPosition | None


class ThreadOut(BaseModel):
    id: int
    subject: str
    message_count: int
    created_at: datetime
    last_activity_at: datetime


class ThreadNodeOut(BaseModel):
    id: int
    # The post it answers (None for a root); deeper than the nesting limit, a reply is listed
    # under an ancestor rather than its parent, and this names the parent.
    parent_id: int | None = None
    subject: str
    sender_email: str
    sender_name: str
    date: datetime | None
    depth: int
    children: list[ThreadNodeOut]


class ThreadTreeOut(ThreadOut):
    roots: list[ThreadNodeOut]


class SearchHitOut(BaseModel):
    id: int
    thread_id: int | None
    subject: str
    sender_email: str
    sender_name: str
    date: datetime | None
    received_at: datetime
    snippet: str = Field(description="HTML-escaped text, matches in <mark>")
    subject_highlighted: str
    rank: float
