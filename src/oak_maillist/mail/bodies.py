"""A message's body structure read as JMAP does: the text, the HTML and the other leaves."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message

from oak_maillist.mail.attachments import ParsedAttachment, read_attachment
from oak_maillist.mail.headers import mime_headers, note_defect
from oak_maillist.mail.mime_parts import Part, capped, part_text
from oak_maillist.mail.sanitize import html_to_text, sanitize_html

__all__ = ["Bodies", "read_bodies"]

# Deeper nesting is only ever an attack on the parser; what lies below is not read.
MAX_DEPTH = 64

_UUENCODE = re.compile(r"^begin [0-7]{3,4} \S", re.MULTILINE)
_BODY_TYPES = ("text/plain", "text/html")


@dataclass
class Bodies:
    """What `read_bodies` found: `html` is None when no part is HTML."""

    text: str = ""
    html: str | None = None
    attachments: list[ParsedAttachment] = field(default_factory=list)


def read_bodies(msg: Message, max_chars: int, defects: list[str]) -> Bodies:
    """Bodies as JMAP chooses them (RFC 8621 §4.1.4), then every defect the parts carry."""
    found = Bodies()
    parts = list(_walk(msg))
    order = {id(part): index for index, part in enumerate(parts)}
    layout = _Layout(order, defects)
    layout.read([msg], "mixed", False, layout.html, layout.text, 0)
    bodies = {id(p.message) for p in (*layout.text, *layout.html) if p.content_type in _BODY_TYPES}
    texts = [
        _body_text(p, max_chars, defects) for p in layout.text if p.content_type in _BODY_TYPES
    ]
    found.text = capped(_join(texts), max_chars, defects)
    if any(p.content_type == "text/html" for p in layout.html):
        pieces = [_html_piece(p, max_chars, defects) for p in layout.html]
        found.html = sanitize_html(capped("\n".join(pieces), max_chars, defects))
    for leaf in layout.leaves:
        if id(leaf.message) not in bodies:
            found.attachments.append(read_attachment(leaf, len(found.attachments) + 1, defects))
    # Read last: decoding a payload adds the defects found in its transfer encoding.
    for index, part in enumerate(parts):
        for defect in part.defects:
            where = f" in part {index}" if index else ""
            note_defect(defects, f"{type(defect).__name__}{where}")
    return found


class _Layout:
    """The JMAP body-structure walk (RFC 8621 §4.1.4, `parseStructure`), kept faithful."""

    def __init__(self, order: dict[int, int], defects: list[str]) -> None:
        self.order, self.defects = order, defects
        self.text: list[Part] = []
        self.html: list[Part] = []
        self.leaves: list[Part] = []

    def read(
        self,
        parts: list[Message],
        multipart_type: str,
        in_alternative: bool,
        html: list[Part] | None,
        text: list[Part] | None,
        depth: int,
    ) -> None:
        text_length = len(text) if text is not None else -1
        html_length = len(html) if html is not None else -1
        for position, message in enumerate(parts):
            part = _describe(message, self.order[id(message)], self.defects)
            if part.is_container:
                if depth >= MAX_DEPTH:
                    note_defect(
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


def _describe(message: Message, index: int, defects: list[str]) -> Part:
    mime = mime_headers(message, defects)
    content_type = mime.content_type
    container = content_type.startswith("multipart/") and message.is_multipart()
    if content_type.startswith("multipart/") and not container:
        # No usable boundary: RFC 2045 §5.2 reads an invalid Content-Type as text/plain.
        content_type = "text/plain"
    return Part(
        message, index, content_type, mime.charset, mime.disposition, mime.filename,
        mime.content_id, container,
    )  # fmt: skip


def _is_inline(part: Part, position: int, multipart_type: str) -> bool:
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


def _body_text(part: Part, max_chars: int, defects: list[str]) -> str:
    text = part_text(part, defects)
    if part.content_type == "text/html":
        return html_to_text(capped(text, max_chars, defects))
    # The substring test first: the pattern alone scans a long text slowly.
    if "begin " in text and _UUENCODE.search(text):
        note_defect(defects, f"uuencoded data left in the text of part {part.index}")
    return text


def _html_piece(part: Part, max_chars: int, defects: list[str]) -> str:
    if part.content_type != "text/html":
        if part.content_type != "text/plain":
            return ""  # inline images are shown where the HTML references them
        text = part_text(part, defects)
        return f"<pre>{html_lib.escape(text)}</pre>" if text.strip() else ""
    return part_text(part, defects)


def _join(texts: list[str]) -> str:
    """Parts in reading order, a blank line between them."""
    joined = texts[0] if texts else ""
    for text in texts[1:]:
        joined += ("\n" if joined.endswith("\n") else "\n\n") + text
    return joined
