"""Digest mail: a period's posts in one message, as MIME (RFC 2046 multipart/digest) or as
plain text (RFC 1153).

The posts are encoded once per digest; each subscriber's copy only adds its own header fields
and a small footer with its links, spliced around the shared bytes.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from oak_maillist.delivery.mime import header_field

# RFC 1153: a line of 70 hyphens ends the preamble, 30 hyphens separate the messages.
PREAMBLE_END = "-" * 70
SEPARATOR = "-" * 30
_POLICY = SMTP.clone(max_line_length=78, cte_type="7bit")


@dataclass(frozen=True)
class Post:
    subject: str
    sender_name: str
    sender_email: str
    date: datetime
    message_id: str
    in_reply_to: str
    text: str

    @property
    def sender(self) -> str:
        return _mailbox(self.sender_name, self.sender_email)


@dataclass(frozen=True)
class Heading:
    """What every copy of one digest says about itself."""

    list_name: str
    list_address: str
    list_id: str
    subject: str  # rendered from the digest template
    preamble: str  # the template's body: title and table of contents
    end_line: str  # e.g. "End of Developers Digest, Issue 12"
    date: datetime


@dataclass(frozen=True)
class Shared:
    """The encoded parts of one digest in one format, for every subscriber of that format."""

    heading: Heading
    fmt: str  # mime or plain
    head: bytes  # fields every copy carries
    body: bytes  # mime: the parts before the footer; plain: the text before the footer
    boundary: str


def build(heading: Heading, posts: list[Post], fmt: str) -> Shared:
    """Encode the posts once; `personalise` makes each subscriber's copy."""
    local, _, domain = heading.list_address.rpartition("@")
    sender = _mailbox(f"{heading.list_name} digest", f"{local}-request@{domain}")
    head = b"".join(
        (
            header_field("From", sender),
            header_field("Subject", heading.subject),
            header_field("Date", format_datetime(heading.date)),
            header_field("Reply-To", heading.list_address),
            header_field("List-Id", f"{heading.list_name} <{heading.list_id}>"),
            header_field("List-Post", f"<mailto:{heading.list_address}>"),
            b"Precedence: list\r\nMIME-Version: 1.0\r\n",
        )
    )
    boundary = f"oakdigest{secrets.token_hex(12)}"
    if fmt == "plain":
        return Shared(heading, fmt, head, plain_text(heading, posts).encode("utf-8"), boundary)
    toc = _text_part(heading.preamble)
    digest = EmailMessage(policy=_POLICY)
    digest.make_mixed()
    digest.set_type("multipart/digest")
    for post in posts:
        digest.attach(_rfc822(post))
    body = (
        f"--{boundary}\r\n".encode("ascii")
        + toc
        + f"\r\n--{boundary}\r\n".encode("ascii")
        + digest.as_bytes(policy=_POLICY)
    )
    return Shared(heading, fmt, head, body, boundary)


def personalise(
    shared: Shared, *, recipient: str, message_id: str, unsubscribe_url: str, footer: str
) -> bytes:
    """One subscriber's copy: its To, Message-ID and unsubscribe link, and the footer text."""
    leave = shared.heading.list_address.replace("@", "-leave@", 1)
    fields = shared.head + b"".join(
        (
            header_field("To", recipient),
            header_field("Message-ID", message_id),
            header_field("List-Unsubscribe", f"<{unsubscribe_url}>, <mailto:{leave}>"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        )
    )
    if shared.fmt == "plain":
        text = shared.body + ("\n" + footer.strip() + "\n").encode("utf-8")
        return fields + (
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + _base64(text)
        )
    return (
        fields
        + f'Content-Type: multipart/mixed; boundary="{shared.boundary}"\r\n\r\n'.encode("ascii")
        + shared.body
        + f"\r\n--{shared.boundary}\r\n".encode("ascii")
        + _text_part(footer)
        + f"\r\n--{shared.boundary}--\r\n".encode("ascii")
    )


def plain_text(heading: Heading, posts: list[Post]) -> str:
    """The RFC 1153 body: preamble, 70 hyphens, messages separated by 30, the end line."""
    lines = [heading.preamble.rstrip(), "", PREAMBLE_END, ""]
    for index, post in enumerate(posts):
        if index:
            lines += [SEPARATOR, ""]
        lines += [
            f"Date: {format_datetime(post.date)}",
            f"From: {post.sender}",
            f"Subject: {post.subject}",
            f"Message-ID: {post.message_id}",
            "",
            _escape(post.text.strip()),
            "",
        ]
    lines += [SEPARATOR, "", heading.end_line, "*" * len(heading.end_line), ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    """A line in a post that looks like a separator gets a leading space (RFC 1153 §4)."""
    return "\n".join(
        f" {line}" if line.rstrip() in (SEPARATOR, PREAMBLE_END) else line
        for line in text.splitlines()
    )


def _rfc822(post: Post) -> EmailMessage:
    inner = EmailMessage(policy=_POLICY)
    inner["From"] = post.sender
    inner["Date"] = format_datetime(post.date)
    inner["Subject"] = post.subject
    if post.message_id:
        inner["Message-ID"] = post.message_id
    if post.in_reply_to:
        inner["In-Reply-To"] = post.in_reply_to
    inner.set_content(post.text or "", charset="utf-8")
    part = EmailMessage(policy=_POLICY)
    part.set_content(inner)  # message/rfc822
    del part["MIME-Version"]
    return part


def _text_part(text: str) -> bytes:
    part = EmailMessage(policy=_POLICY)
    part.set_content(text, charset="utf-8")
    del part["MIME-Version"]
    return part.as_bytes(policy=_POLICY)


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _mailbox(name: str, address: str) -> str:
    local, _, domain = address.rpartition("@")
    try:
        return str(Address(display_name=name, username=local, domain=domain))
    except (ValueError, IndexError):
        return address
