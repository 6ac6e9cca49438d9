"""A leaf of the MIME tree kept as an attachment, under a file name safe to show and store."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from oak_maillist.mail.mime_parts import Part, part_content

__all__ = ["ParsedAttachment", "read_attachment"]

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


def read_attachment(part: Part, ordinal: int, defects: list[str]) -> ParsedAttachment:
    """`part` as the `ordinal`-th attachment of its message."""
    return ParsedAttachment(
        filename=_filename_for(part, ordinal),
        content_type=part.content_type,
        content=part_content(part, defects),
        content_id=part.content_id,
        is_inline=part.disposition == "inline" or bool(part.content_id),
        part_index=part.index,
    )


def _filename_for(part: Part, ordinal: int) -> str:
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
