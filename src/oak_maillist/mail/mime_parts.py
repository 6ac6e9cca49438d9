"""One MIME part's content: transfer encoding undone, text decoded from its charset."""

from __future__ import annotations

import codecs
import contextlib
import io
from dataclasses import dataclass
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage, Message

from oak_maillist.mail.headers import note_defect, repair_text

__all__ = ["Part", "capped", "part_content", "part_text"]

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
_LINE_ENCODINGS = ("", "7bit", "8bit", "quoted-printable")
_DECODED_ENCODINGS = ("base64", "quoted-printable", "x-uuencode", "uuencode", "uue", "x-uue")


@dataclass(frozen=True)
class Part:
    """A MIME part with what its headers say; `index` is its position in walk order."""

    message: Message
    index: int
    content_type: str
    charset: str
    disposition: str
    filename: str
    content_id: str
    is_container: bool


def part_text(part: Part, defects: list[str]) -> str:
    """The part's content as text in its declared charset."""
    return _decode(part_content(part, defects), part.charset, part.index, defects)


def part_content(part: Part, defects: list[str]) -> bytes:
    """The part's bytes with the transfer encoding undone (an attached message as a file)."""
    message = part.message
    try:
        if message.is_multipart():
            return _attached_message(message, part.index, defects)
        payload = message.get_payload(decode=True)
        declared = str(message.get("content-transfer-encoding", "")).lower()
    except Exception as exc:
        note_defect(defects, f"part {part.index} could not be decoded ({type(exc).__name__})")
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


def capped(text: str, max_chars: int, defects: list[str]) -> str:
    """`text` cut to `max_chars`, the cut noted."""
    if len(text) <= max_chars:
        return text
    note_defect(defects, f"text cut at {max_chars} characters")
    return text[:max_chars]


def _undo_transfer_encoding(payload: str, encoding: str, index: int, defects: list[str]) -> bytes:
    """The stdlib's decoders (base64, quoted-printable, uuencode) applied to `payload`."""
    carrier = Message()
    if encoding:
        carrier["Content-Transfer-Encoding"] = encoding
    carrier.set_payload(payload)
    decoded = carrier.get_payload(decode=True)
    for defect in carrier.defects:
        note_defect(defects, f"{type(defect).__name__} in part {index}")
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
        note_defect(defects, f"message part {index} has a {encoding} transfer encoding")
        payload = data.removeprefix(b"\n").decode("ascii", "surrogateescape")
        data = _undo_transfer_encoding(payload, encoding, index, defects)
    return data


def _decode(data: bytes, charset: str, index: int, defects: list[str]) -> str:
    """Text in its declared charset; undeclared or unknown as UTF-8, else Latin-1."""
    label = _CHARSET_ALIASES.get(charset, charset)
    codec = _codec(label)
    if charset and codec is None:
        note_defect(defects, f"unknown charset {charset[:40]!r} in part {index}")
    text = None
    if codec is not None and codec != "ascii":
        try:
            text = data.decode(codec)
        except Exception:  # UnicodeError, or a codec that rejects the input outright
            note_defect(defects, f"text of part {index} is not valid {charset[:40]}")
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
