"""Guarded header reading: decoded values or the raw text, a defect noted, never an exception."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from oak_maillist.mail.reading import READING

# RFC 5322 §2.2.3 unfolding; the white space around the fold is read as one space.
_FOLD = re.compile(r"[ \t]*(?:\r\n|\r|\n)[ \t]*")
# An encoded word has no white space (RFC 2047 §5), yet some mailers fold inside one.
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?]*\?=")
# Control characters have no place in a header's text (and PostgreSQL refuses NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ID_IN_BRACKETS = re.compile(r"<([^<>]*)>?")
_MIME_FIELDS = ("content-type", "content-disposition")
# What policy.header_fetch_parse removes before a value reaches the header registry.
_LINE_BREAKS = re.compile(r"\n|\r")
# Headers the registry reads as address lists, and as dates.
_ADDRESS_HEADERS = frozenset(
    ("from", "to", "cc", "bcc", "reply-to", "resent-from", "resent-to", "resent-cc", "resent-bcc")
)
_DATE_HEADERS = frozenset(("date", "resent-date", "orig-date"))
# Common address-list members in plain ASCII (RFC 5322 §3.4): a phrase of atoms or a quoted
# string without escapes, then an angle-addr; or a bare addr-spec. Both parts are dot-atoms.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_SIMPLE_MAILBOX = re.compile(
    rf"[ \t]*(?:(?:(?P<phrase>{_ATOM}(?:[ \t]+{_ATOM})*)|\"(?P<quoted>[ !#-\[\]-~]*)\")[ \t]*)?"
    rf"<(?P<local>{_DOT_ATOM})@(?P<domain>{_DOT_ATOM})>[ \t]*"
    rf"|[ \t]*(?P<bare_local>{_DOT_ATOM})@(?P<bare_domain>{_DOT_ATOM})[ \t]*"
)

# The stdlib's RFC 5322 parsers slow down sharply on huge values; past these sizes a value
# is cut (encoded text) or read by the lenient legacy parsers (addresses, MIME parameters).
MAX_DECODED_CHARS = 16_384
MAX_STRUCTURED_CHARS = 16_384


@dataclass(frozen=True)
class Address:
    """A mailbox as written in a header; `email` is "" when it could not be read."""

    name: str
    email: str


@dataclass(frozen=True)
class MimeHeaders:
    """What a MIME part says about itself; values lowercased where RFC 2045 makes case moot."""

    content_type: str
    charset: str
    disposition: str
    filename: str
    content_id: str


def header_text(msg: Message, name: str, defects: list[str] | None = None) -> str:
    """The first `name` header, RFC 2047 decoded and unfolded; "" when absent."""
    values = header_texts(msg, name, defects)
    return values[0] if values else ""


def header_texts(msg: Message, name: str, defects: list[str] | None = None) -> list[str]:
    """Every `name` header in order, each unfolded and decoded as unstructured text."""
    return [_clean(_decoded(value, name, defects)) for value in raw_values(msg, name)]


def header_addresses(msg: Message, name: str, defects: list[str] | None = None) -> list[Address]:
    """The mailboxes of every `name` header, groups flattened, in order."""
    raw = raw_values(msg, name)
    if sum(len(value) for value in raw) > MAX_STRUCTURED_CHARS:
        note_defect(
            defects, f"{name}: longer than {MAX_STRUCTURED_CHARS} characters, read leniently"
        )
    else:
        simple = _simple_addresses(msg, name, raw)
        if simple is not None:
            return simple
        try:
            return [
                _address(mailbox.display_name, mailbox.addr_spec, mailbox.username, mailbox.domain)
                for header in msg.get_all(name, [])
                for mailbox in getattr(header, "addresses", ())
            ]
        except Exception as exc:  # the header parsers raise many types on malformed input
            note_defect(defects, f"{name}: unreadable address list ({type(exc).__name__})")
    try:
        # The legacy parser is lenient where the RFC 5322 one gives up.
        pairs = getaddresses([_FOLD.sub(" ", value) for value in raw])
    except Exception:
        return []
    found = []
    for person, addr in pairs:
        local, _, domain = addr.rpartition("@")
        if person or addr:
            found.append(_address(decode_words(person), addr, local or addr, domain))
    return found


def header_date(
    msg: Message, name: str = "Date", defects: list[str] | None = None
) -> datetime | None:
    """The header as an aware UTC datetime; None when absent or unreadable."""
    raw = raw_values(msg, name)
    if not raw:
        return None
    value = _header_datetime(msg, name, raw[0])
    if value is None:
        value = _legacy_date(raw)
    if value is None:
        note_defect(defects, f"{name}: not a date")
        return None
    # RFC 5322 §3.3: "-0000" means the zone is unknown; UTC is the only honest reading.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        note_defect(defects, f"{name}: date out of range")
        return None


def normalize_message_id(value: str) -> str:
    """The first id in a Message-ID style value, without brackets, comments or spaces."""
    text = _strip_comments(value)
    for match in _ID_IN_BRACKETS.finditer(text):
        found = "".join(match.group(1).split())
        if found:
            return found
    words = text.replace("<", " ").replace(">", " ").split()
    return words[0] if words else ""


def mime_headers(part: Message, defects: list[str] | None = None) -> MimeHeaders:
    """Content-Type, charset, disposition, filename (RFC 2231/2047 decoded) and Content-ID."""
    content_id = normalize_message_id(header_text(part, "Content-ID", defects))
    sizes = [len(str(v)) for k, v in part.raw_items() if k.lower() in _MIME_FIELDS]
    if max(sizes, default=0) > MAX_STRUCTURED_CHARS:
        note_defect(defects, f"MIME headers longer than {MAX_STRUCTURED_CHARS} characters, cut")
    else:
        try:
            return _parsed_mime(part, content_id)
        except Exception as exc:  # the header parsers raise many types on malformed input
            note_defect(defects, f"MIME headers: unreadable ({type(exc).__name__}), read leniently")
    try:
        return _legacy_mime(part, content_id)
    except Exception:
        return MimeHeaders(part.get_default_type(), "", "", "", content_id)


def raw_values(msg: Message, name: str) -> list[str]:
    """Every `name` header exactly as stored by the parser, undecoded."""
    wanted = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.lower() == wanted]


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded by the stdlib's lenient unstructured-header parser."""
    return _decoded(value, "", None)


def _decoded(value: str, name: str, defects: list[str] | None) -> str:
    if "=?" not in value:
        return repair_text(_FOLD.sub(" ", value))
    if len(value) > MAX_DECODED_CHARS:
        note_defect(defects, f"{name}: cut at {MAX_DECODED_CHARS} characters to decode it")
        value = value[:MAX_DECODED_CHARS]
    value = _FOLD.sub(" ", _ENCODED_WORD.sub(lambda word: _FOLD.sub("", word.group()), value))
    try:
        header = READING.header_factory("subject", value)
    except Exception as exc:  # the header parsers raise many types on malformed input
        note_defect(defects, f"{name}: undecodable ({type(exc).__name__}), raw value kept")
        return repair_text(value)
    for defect in header.defects:
        note_defect(defects, f"{name}: {type(defect).__name__}")
    return repair_text(str(header))


def repair_text(value: str) -> str:
    """Text safe to encode: bytes the parser kept as surrogate escapes read as UTF-8 (RFC 6532),
    any other lone surrogate (a UTF-7 or UTF-16 decoder can leave them) as U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _simple_addresses(msg: Message, name: str, raw: list[str]) -> list[Address] | None:
    """What the RFC 5322 parser reads from common values ("Name <a@b.c>", "a@b.c, <d@e.f>",
    a quoted name): the same answer at a fraction of the cost; None for any other value."""
    if msg.policy is not READING or name.lower() not in _ADDRESS_HEADERS:
        return None
    found = []
    for value in raw:
        value = _LINE_BREAKS.sub("", value)
        if "=?" in value:
            return None  # an encoded word looks like an atom
        position = 0
        while True:
            match = _SIMPLE_MAILBOX.match(value, position)
            if match is None:
                return None
            phrase, quoted, local, domain = match.group("phrase", "quoted", "local", "domain")
            if local is None:
                local, domain = match.group("bare_local", "bare_domain")
            # The parser joins a phrase's words with one space; a quoted name stays as written.
            display = " ".join(phrase.split()) if phrase else quoted or ""
            found.append(_address(display, f"{local}@{domain}", local, domain))
            position = match.end()
            if position == len(value):
                break
            if value[position] != ",":
                return None
            position += 1
    return found


def _header_datetime(msg: Message, name: str, first: str) -> datetime | None:
    """The `datetime` of the first `name` header as the RFC 5322 registry reads it."""
    if msg.policy is READING and name.lower() in _DATE_HEADERS:
        # What DateHeader.parse does to the value header_fetch_parse hands it, without the
        # reformatting and re-parsing of the date that only folding needs.
        value = _LINE_BREAKS.sub("", first)
        try:
            return parsedate_to_datetime(value) if value else None
        except Exception:
            return None
    try:
        return getattr(msg.get(name), "datetime", None)
    except Exception:
        return None


def _address(name: str, addr_spec: str, local_part: str, domain: str) -> Address:
    name = _clean(repair_text(name))
    if not local_part or not domain:
        # Words without a domain ("From: Someone Else") are more likely a name than a mailbox.
        return Address(name or _clean(repair_text(local_part)), "")
    return Address(name, _clean(repair_text(addr_spec)))


def _parsed_mime(part: Message, content_id: str) -> MimeHeaders:
    """One parse of each header by the RFC 2045 registry (an invalid type reads text/plain)."""
    content_type, disposition = part.get("content-type"), part.get("content-disposition")
    type_params = getattr(content_type, "params", {})
    disposition_params = getattr(disposition, "params", {})
    filename = disposition_params.get("filename") or type_params.get("name") or ""
    return MimeHeaders(
        content_type=getattr(content_type, "content_type", None) or part.get_default_type(),
        charset=str(type_params.get("charset", "")).strip().lower(),
        disposition=str(getattr(disposition, "content_disposition", None) or ""),
        filename=decode_words(str(filename)),
        content_id=content_id,
    )


def _legacy_mime(part: Message, content_id: str) -> MimeHeaders:
    """The same fields read by the lenient compat32 string parser, from shortened values."""
    legacy = Message(policy=policy.compat32)
    legacy.set_default_type(part.get_default_type())
    for key, value in part.raw_items():
        if key.lower() in _MIME_FIELDS:
            legacy[key] = _FOLD.sub(" ", str(value))[:MAX_STRUCTURED_CHARS]
    return MimeHeaders(
        content_type=legacy.get_content_type(),
        charset=legacy.get_content_charset() or "",
        disposition=legacy.get_content_disposition() or "",
        filename=decode_words(legacy.get_filename() or ""),
        content_id=content_id,
    )


def _legacy_date(raw: list[str]) -> datetime | None:
    for value in raw:
        try:
            # RFC 5322 §3.3 allows comments between the parts of a date.
            return parsedate_to_datetime(_strip_comments(_FOLD.sub(" ", value)).strip())
        except Exception:  # noqa: S112 - the next Date header may be readable
            continue
    return None


def _strip_comments(value: str) -> str:
    """Drop RFC 5322 comments "(...)" (nested, with quoted-pairs) outside angle brackets."""
    out: list[str] = []
    depth, escaped, in_id = 0, False, False
    for char in value:
        if escaped:
            escaped = False
        elif depth and char == "\\":
            escaped = True
        elif char == "(" and not in_id:
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            in_id = (in_id or char == "<") and char != ">"
            out.append(char)
    return "".join(out)


def _clean(value: str) -> str:
    return _CONTROL.sub("", _FOLD.sub(" ", value)).strip()


def note_defect(defects: list[str] | None, text: str) -> None:
    """Add `text` to `defects` once (a None list collects nothing)."""
    text = repair_text(text)  # defects quote message text, which may carry surrogates
    if defects is not None and text not in defects:
        defects.append(text)
