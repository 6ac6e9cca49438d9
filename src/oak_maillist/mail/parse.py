"""A raw message read into what the archive keeps: headers, text, safe HTML, attachments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message

from oak_maillist.mail.attachments import ParsedAttachment
from oak_maillist.mail.bodies import read_bodies
from oak_maillist.mail.headers import (
    Address,
    header_addresses,
    header_date,
    header_text,
    header_texts,
    normalize_message_id,
    note_defect,
    repair_text,
)
from oak_maillist.mail.mime_parts import capped
from oak_maillist.mail.reading import header_memo, read_message

__all__ = ["Address", "ParsedAttachment", "ParsedMessage", "parse_message"]


@dataclass
class ParsedMessage:
    """Everything the archive needs from one message; see `parse_message`."""

    message_id: str
    in_reply_to: str
    references: str
    subject: str
    sender: Address
    to: list[Address]
    cc: list[Address]
    reply_to: list[Address]
    date: datetime | None
    list_id: str
    auto_submitted: str
    precedence: str
    x_loop: list[str]
    text: str
    html: str | None
    attachments: list[ParsedAttachment]
    defects: list[str]
    size: int


def parse_message(
    raw: bytes,
    *,
    max_text_chars: int = 2_000_000,
    reader: Callable[[bytes], Message] = read_message,
) -> ParsedMessage:
    """Read `raw` (RFC 5322 bytes); never raises, problems are listed in `defects`.

    Bodies are chosen as JMAP does (RFC 8621 §4.1.4): `text` joins the text/plain parts in
    reading order (HTML read as text where a part has no plain version), `html` the sanitised
    HTML parts, and every other leaf becomes an attachment. `reader` turns the bytes into a
    message; the default reads as `policy.default` does, with shortcuts that tests hold to
    the same results as `BytesParser(policy=policy.default).parsebytes`.
    """
    defects: list[str] = []
    with header_memo():
        try:
            msg = reader(raw)
            parsed = _with_headers(msg, defects, len(raw))
            bodies = read_bodies(msg, max_text_chars, defects)
        except Exception as exc:  # a parser bug must not lose the message: keep its words
            note = f"message could not be parsed ({type(exc).__name__}); kept as text"
            note_defect(defects, note)
            parsed = _with_headers(EmailMessage(), defects, len(raw))
            text = repair_text(raw.decode("utf-8", "surrogateescape")).replace("\x00", "")
            parsed.text = capped(text, max_text_chars, defects)
            return parsed
    parsed.text, parsed.html, parsed.attachments = bodies.text, bodies.html, bodies.attachments
    return parsed


def _with_headers(msg: Message, defects: list[str], size: int) -> ParsedMessage:
    senders = header_addresses(msg, "From", defects)
    return ParsedMessage(
        message_id=normalize_message_id(header_text(msg, "Message-ID", defects)),
        in_reply_to=header_text(msg, "In-Reply-To", defects),
        references=header_text(msg, "References", defects),
        subject=header_text(msg, "Subject", defects),
        sender=senders[0] if senders else Address("", ""),
        to=header_addresses(msg, "To", defects),
        cc=header_addresses(msg, "Cc", defects),
        reply_to=header_addresses(msg, "Reply-To", defects),
        date=header_date(msg, "Date", defects),
        list_id=header_text(msg, "List-Id", defects),
        auto_submitted=header_text(msg, "Auto-Submitted", defects),
        precedence=header_text(msg, "Precedence", defects),
        x_loop=header_texts(msg, "X-Loop", defects),
        text="",
        html=None,
        attachments=[],
        defects=defects,
        size=size,
    )
