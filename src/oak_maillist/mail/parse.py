"""A raw message read into what the archive keeps: headers, text, safe HTML, attachments."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import html as html_lib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.parser import BytesParser

from oak_maillist.mail.headers import (
    Address,
    header_addresses,
    header_date,
    header_text,
    header_texts,
    mime_headers,
    normalize_message_id,
    repair_text,
)
from oak_maillist.mail.sanitize import html_to_text, sanitize_html

__all__ = ["Address", "ParsedAttachment", "ParsedMessage", "parse_message"]

# Deeper nesting is only ever an attack on the parser; what lies below is not read.
MAX_DEPTH = 64

# Regenerating an attached message must not rewrap the headers it was sent with.
_AS_RECEIVED = policy.default.clone(refold_source="none", max_line_length=0)

# Labels mail software writes that Python's codec registry does not know (WHATWG Encoding
# Standard names), and labels that are narrower than the text they usually carry.
_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "x-sjis": "shift_jis",
    "x-gbk": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "x-euc-jp": "euc_jp",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf-7",
}
# Codecs that are not character sets a sender could mean.
_NOT_CHARSETS = {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}
_UUENCODE = re.compile(r"^begin [0-7]{3,4} \S", re.MULTILINE)
_BODY_TYPES = ("text/plain", "text/html")
_LINE_ENCODINGS = ("", "7bit", "8bit", "quoted-printable")
_DECODED_ENCODINGS = ("base64", "quoted-printable", "x-uuencode", "uuencode", "uue", "x-uue")
# Characters that hide or reorder a file name (controls, bidi overrides as in "gpj.exe").
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MAX_NAME = 255
# Extensions for unnamed parts; other text-like types get ".txt", the rest ".bin".
_EXTENSIONS = {
    "text/html": ".html",
    "text/calendar": ".ics",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/pgp-signature": ".asc",
    "application/pkcs7-signature": ".p7s",
}


@dataclass(frozen=True)
class _Part:
    message: Message
    index: int
    content_type: str
    charset: str
    disposition: str
    filename: str
    content_id: str
    is_container: bool


@dataclass(frozen=True)
class ParsedAttachment:
    """A leaf of the MIME tree that is not part of the body, decoded from its transfer encoding."""

    filename: str
    content_type: str
    content: bytes
    content_id: str
    is_inline: bool
    # Position in `email.message.Message.walk()` order, 0 being the message itself.
    part_index: int

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


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


def parse_message(raw: bytes, *, max_text_chars: int = 2_000_000) -> ParsedMessage:
    """Read `raw` (RFC 5322 bytes); never raises, problems are listed in `defects`.

    Bodies are chosen as JMAP does (RFC 8621 §4.1.4): `text` joins the text/plain parts in
    reading order (HTML read as text where a part has no plain version), `html` the sanitised
    HTML parts, and every other leaf becomes an attachment.
    """
    defects: list[str] = []
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        parsed = _with_headers(msg, defects, len(raw))
        _read_bodies(msg, parsed, max_text_chars)
        return parsed
    except Exception as exc:  # a parser bug must not lose the message: keep its words
        _note(defects, f"message could not be parsed ({type(exc).__name__}); kept as text")
        parsed = _with_headers(EmailMessage(), defects, len(raw))
        text = repair_text(raw.decode("utf-8", "surrogateescape")).replace("\x00", "")
        parsed.text = _capped(text, max_text_chars, defects)
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


def _read_bodies(msg: Message, parsed: ParsedMessage, max_chars: int) -> None:
    defects = parsed.defects
    order = {id(part): index for index, part in enumerate(_walk(msg))}
    layout = _Layout(order, defects)
    layout.read([msg], "mixed", False, layout.html, layout.text, 0)
    bodies = {id(p.message) for p in (*layout.text, *layout.html) if p.content_type in _BODY_TYPES}
    texts = [
        _body_text(p, max_chars, defects) for p in layout.text if p.content_type in _BODY_TYPES
    ]
    parsed.text = _capped(_join(texts), max_chars, defects)
    if any(p.content_type == "text/html" for p in layout.html):
        pieces = [_html_piece(p, max_chars, defects) for p in layout.html]
        parsed.html = sanitize_html(_capped("\n".join(pieces), max_chars, defects))
    for leaf in layout.leaves:
        if id(leaf.message) not in bodies:
            parsed.attachments.append(_attachment(leaf, len(parsed.attachments) + 1, defects))
    # Read last: decoding a payload adds the defects found in its transfer encoding.
    for part in _walk(msg):
        for defect in part.defects:
            where = f" in part {order[id(part)]}" if part is not msg else ""
            _note(defects, f"{type(defect).__name__}{where}")


class _Layout:
    """The JMAP body-structure walk (RFC 8621 §4.1.4, `parseStructure`), kept faithful."""

    def __init__(self, order: dict[int, int], defects: list[str]) -> None:
        self.order, self.defects = order, defects
        self.text: list[_Part] = []
        self.html: list[_Part] = []
        self.leaves: list[_Part] = []

    def read(
        self,
        parts: list[Message],
        multipart_type: str,
        in_alternative: bool,
        html: list[_Part] | None,
        text: list[_Part] | None,
        depth: int,
    ) -> None:
        text_length = len(text) if text is not None else -1
        html_length = len(html) if html is not None else -1
        for position, message in enumerate(parts):
            part = _describe(message, self.order[id(message)], self.defects)
            if part.is_container:
                if depth >= MAX_DEPTH:
                    _note(
                        self.defects, f"MIME nesting deeper than {MAX_DEPTH}: inner parts skipped"
                    )
                    continue
                subtype = part.content_type.partition("/")[2]
                children = [p for p in message.get_payload() if isinstance(p, Message)]
                alternative = in_alternative or subtype == "alternative"
                self.read(children, subtype, alternative, html, text, depth + 1)
                continue
            self.leaves.append(part)
            if not _is_inline(part, position, multipart_type):
                continue
            if multipart_type == "alternative":
                # (RFC 8621's code would fail on a null list here: such a part is a rendition
                # nobody reads as body, so it goes to a throwaway list and stays an attachment.)
                if part.content_type == "text/plain":
                    (text if text is not None else []).append(part)
                elif part.content_type == "text/html":
                    (html if html is not None else []).append(part)
                continue
            if in_alternative:
                html = None if part.content_type == "text/plain" else html
                text = None if part.content_type == "text/html" else text
            for body in (text, html):
                if body is not None:
                    body.append(part)
        if multipart_type == "alternative" and text is not None and html is not None:
            if text_length == len(text) and html_length != len(html):
                text.extend(html[html_length:])
            elif html_length == len(html) and text_length != len(text):
                html.extend(text[text_length:])


def _describe(message: Message, index: int, defects: list[str]) -> _Part:
    mime = mime_headers(message, defects)
    content_type = mime.content_type
    container = content_type.startswith("multipart/") and message.is_multipart()
    if content_type.startswith("multipart/") and not container:
        # No usable boundary: RFC 2045 §5.2 reads an invalid Content-Type as text/plain.
        content_type = "text/plain"
    return _Part(
        message, index, content_type, mime.charset, mime.disposition, mime.filename,
        mime.content_id, container,
    )  # fmt: skip


def _filename_for(part: _Part, ordinal: int) -> str:
    """The sender's file name without any path, or "attachment-N.ext" when there is none."""
    name = _UNSAFE_NAME.sub("", part.filename).replace("\\", "/").rpartition("/")[2].strip()
    if not name.strip("."):
        if part.content_type == "message/rfc822":
            return "forwarded-message.eml"
        default = ".txt" if part.content_type.startswith(("text/", "message/")) else ".bin"
        return f"attachment-{ordinal}{_EXTENSIONS.get(part.content_type, default)}"
    if len(name) > _MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        keep = f"{dot}{extension}" if dot and stem and len(extension) <= 16 else ""
        name = name[: _MAX_NAME - len(keep)] + keep
    return name


def _is_inline(part: _Part, position: int, multipart_type: str) -> bool:
    media = part.content_type.partition("/")[0] in ("image", "audio", "video")
    return (
        part.disposition != "attachment"
        and (part.content_type in _BODY_TYPES or media)
        and (position == 0 or (multipart_type != "related" and (media or not part.filename)))
    )


def _walk(root: Message) -> Iterator[Message]:
    """`Message.walk()` order without its recursion (deep trees must not overflow the stack)."""
    stack = [root]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart():
            stack.extend(reversed([p for p in part.get_payload() if isinstance(p, Message)]))


def _body_text(part: _Part, max_chars: int, defects: list[str]) -> str:
    text = _decode(_content(part, defects), part.charset, part.index, defects)
    if part.content_type == "text/html":
        return html_to_text(_capped(text, max_chars, defects))
    if _UUENCODE.search(text):
        _note(defects, f"uuencoded data left in the text of part {part.index}")
    return text


def _html_piece(part: _Part, max_chars: int, defects: list[str]) -> str:
    if part.content_type != "text/html":
        if part.content_type != "text/plain":
            return ""  # inline images are shown where the HTML references them
        text = _decode(_content(part, defects), part.charset, part.index, defects)
        return f"<pre>{html_lib.escape(text)}</pre>" if text.strip() else ""
    return _decode(_content(part, defects), part.charset, part.index, defects)


def _attachment(part: _Part, ordinal: int, defects: list[str]) -> ParsedAttachment:
    return ParsedAttachment(
        filename=_filename_for(part, ordinal),
        content_type=part.content_type,
        content=_content(part, defects),
        content_id=part.content_id,
        is_inline=part.disposition == "inline" or bool(part.content_id),
        part_index=part.index,
    )


def _content(part: _Part, defects: list[str]) -> bytes:
    """The part's bytes with the transfer encoding undone (an attached message as a file)."""
    message = part.message
    try:
        if message.is_multipart():
            return _attached_message(message, part.index, defects)
        payload = message.get_payload(decode=True)
        declared = str(message.get("content-transfer-encoding", "")).lower()
    except Exception as exc:
        _note(defects, f"part {part.index} could not be decoded ({type(exc).__name__})")
        return b""
    data = payload if isinstance(payload, bytes) else b""
    encoding = declared.strip()
    if encoding != declared and encoding in _DECODED_ENCODINGS:
        # The stdlib compares the value unstripped ("base64 \t") and hands back the raw text.
        text = data.decode("ascii", "surrogateescape")
        data = _undo_transfer_encoding(text, encoding, part.index, defects)
    if encoding in _LINE_ENCODINGS:
        # Line breaks in a line-based encoding are the local newline, whatever the transport
        # used: the same file sent over SMTP (CRLF) or read from an mbox (LF) hashes alike.
        data = data.replace(b"\r\n", b"\n")
    return data


def _undo_transfer_encoding(payload: str, encoding: str, index: int, defects: list[str]) -> bytes:
    """The stdlib's decoders (base64, quoted-printable, uuencode) applied to `payload`."""
    carrier = Message()
    if encoding:
        carrier["Content-Transfer-Encoding"] = encoding
    carrier.set_payload(payload)
    decoded = carrier.get_payload(decode=True)
    for defect in carrier.defects:
        _note(defects, f"{type(defect).__name__} in part {index}")
    return decoded if isinstance(decoded, bytes) else b""


def _attached_message(message: Message, index: int, defects: list[str]) -> bytes:
    out = io.BytesIO()
    generator = BytesGenerator(out, mangle_from_=False, policy=_AS_RECEIVED)
    for inner in message.get_payload():
        if isinstance(inner, EmailMessage):
            generator.flatten(inner, linesep="\n")
    data = out.getvalue()
    encoding = str(message.get("content-transfer-encoding", "")).strip().lower()
    if encoding in ("base64", "quoted-printable"):
        # RFC 2046 §5.2.1 forbids it, yet senders encode attached messages; undo it.
        _note(defects, f"message part {index} has a {encoding} transfer encoding")
        payload = data.removeprefix(b"\n").decode("ascii", "surrogateescape")
        data = _undo_transfer_encoding(payload, encoding, index, defects)
    return data


def _decode(data: bytes, charset: str, index: int, defects: list[str]) -> str:
    """Text in its declared charset; undeclared or unknown as UTF-8, else Latin-1."""
    label = _CHARSET_ALIASES.get(charset, charset)
    codec = _codec(label)
    if charset and codec is None:
        _note(defects, f"unknown charset {charset[:40]!r} in part {index}")
    text = None
    if codec is not None and codec != "ascii":
        try:
            text = data.decode(codec)
        except Exception:  # UnicodeError, or a codec that rejects the input outright
            _note(defects, f"text of part {index} is not valid {charset[:40]}")
            with contextlib.suppress(Exception):
                text = data.decode(codec, "replace")
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Unlabelled 8-bit text: Latin-1 maps every byte, so no character is lost.
            text = data.decode("latin-1")
    # NUL is never text (and PostgreSQL refuses it); other controls such as form feed stay.
    return repair_text(text).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _codec(label: str) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
        b"".decode(name)  # text encodings only ("hex", "rot13" are not)
    except Exception:
        return None
    return None if name in _NOT_CHARSETS else name


def _join(texts: list[str]) -> str:
    """Parts in reading order, a blank line between them."""
    joined = texts[0] if texts else ""
    for text in texts[1:]:
        joined += ("\n" if joined.endswith("\n") else "\n\n") + text
    return joined


def _capped(text: str, max_chars: int, defects: list[str]) -> str:
    if len(text) <= max_chars:
        return text
    _note(defects, f"text cut at {max_chars} characters")
    return text[:max_chars]


def _note(defects: list[str], text: str) -> None:
    text = repair_text(text)  # defects quote message text, which may carry surrogates
    if text not in defects:
        defects.append(text)
