"""The MIME corpus parsed and compared with what other parsers answered for the same bytes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from oak_maillist.mail.headers import header_date, header_text, normalize_message_id
from oak_maillist.mail.parse import ParsedAttachment, ParsedMessage, parse_message
from oak_maillist.mail.sanitize import html_to_text, sanitize_html

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "mime"
STALWART = CORPUS / "stalwart-mail-parser"
MIME4J = CORPUS / "apache-james-mime4j"
STALWART_SETS = ("legacy", "malformed", "rfc", "thirdparty")
GENERATED_NAME = re.compile(r"attachment-\d+\.\w+|forwarded-message\.eml")

Json = dict[str, Any]

# --- where a reference made a different, defensible choice --------------------------------
#
# Keyed by (case, check); a check listed here must still fail (test_exception_is_still_needed),
# so the list cannot go stale. The reasons name what differs and why we keep our reading.

UUENCODE_KEPT = "stalwart keeps x-uuencode bodies encoded; the stdlib decodes them (a real PNG)"
PREAMBLE = "CPython puts the text before the first boundary in the preamble, which we do not show"
INNER_LEFT_OPEN = (
    "an inner multipart is still open at the outer delimiter: RFC 2046 §5.1.2 ends it there, "
    "so the parts after it belong to the outer multipart and we read their text; stalwart "
    "keeps the inner one open and files the rest as an 'encoding problem' part"
)
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("legacy/017.eml", "attachments"): UUENCODE_KEPT,
    ("legacy/026.eml", "attachments"): UUENCODE_KEPT,
    ("legacy/048.eml", "attachments"): UUENCODE_KEPT,
    ("legacy/052.eml", "text"): (
        "8-bit text labelled us-ascii: stalwart shows U+FFFD, we read it as Latin-1 "
        "(after UTF-8 fails) so the umlauts survive"
    ),
    ("malformed/000.eml", "html"): (
        "every delimiter line is followed by another: stalwart finds no parts, CPython finds "
        "three empty ones, one of them text/html"
    ),
    ("malformed/001.eml", "text"): INNER_LEFT_OPEN,
    ("malformed/001.eml", "attachments"): INNER_LEFT_OPEN,
    ("malformed/002.eml", "text"): (
        "multipart without any delimiter: RFC 2045 §5.2 reads an unusable Content-Type as "
        "text/plain, so the body is text to us and an attachment to stalwart"
    ),
    ("malformed/002.eml", "attachments"): "same as the text check: the body is read as text",
    ("malformed/003.eml", "text"): (
        "inner and outer multipart share boundary 'a', which RFC 2046 §5.1.1 forbids: the "
        "stdlib gives the delimiter to the inner one and its part is body text to us"
    ),
    ("malformed/003.eml", "attachments"): "as for the text check",
    ("malformed/004.eml", "text"): (
        "'--ab' is no delimiter of boundary 'a' (RFC 2046 §5.1.1 allows only white space "
        "after it): no part starts and the body is text; stalwart matches the prefix"
    ),
    ("malformed/004.eml", "attachments"): "as for the text check",
    ("malformed/005.eml", "text"): (
        "'--a----' closes boundary 'a--' and opens 'a----' (RFC 2046 §5.1.1 makes it "
        "ambiguous); CPython closes the outer multipart, the parts land in its epilogue"
    ),
    ("malformed/006.eml", "text"): INNER_LEFT_OPEN,
    ("malformed/006.eml", "attachments"): INNER_LEFT_OPEN,
    ("malformed/007.eml", "attachments"): (
        "stalwart adds an empty part without Content-Type after the inner close delimiter; "
        "there is none"
    ),
    ("malformed/008.eml", "text"): INNER_LEFT_OPEN,
    ("malformed/008.eml", "html"): INNER_LEFT_OPEN,
    ("malformed/008.eml", "attachments"): INNER_LEFT_OPEN,
    ("malformed/009.eml", "text"): INNER_LEFT_OPEN,
    ("malformed/009.eml", "attachments"): INNER_LEFT_OPEN,
    ("malformed/011.eml", "text"): INNER_LEFT_OPEN,
    ("malformed/011.eml", "attachments"): INNER_LEFT_OPEN,
    ("malformed/012.eml", "attachments"): INNER_LEFT_OPEN,
    ("malformed/016.eml", "text"): INNER_LEFT_OPEN,
    ("malformed/016.eml", "attachments"): INNER_LEFT_OPEN,
    ("malformed/017.eml", "text"): (
        "the boundary parameter sits on a continuation line without ';', so there is no "
        "boundary: RFC 2045 §5.2 makes the body text/plain; stalwart guesses the boundary"
    ),
    ("malformed/017.eml", "attachments"): "same as the text check: no boundary, no parts",
    ("malformed/019.eml", "subject"): (
        "the first header line is garbage ('Fro :...'): CPython ends the header block there, "
        "stalwart skips the line and reads the headers after it"
    ),
    ("malformed/019.eml", "text"): "same as the subject check: the rest is body to CPython",
    ("malformed/019.eml", "html"): "same as the subject check: the rest is body to CPython",
    ("malformed/020.eml", "text"): PREAMBLE,
    ("malformed/020.eml", "html"): (
        "stalwart reads the unterminated multipart/alternative as one text part; CPython "
        "finds its text/html part, which we show"
    ),
    ("malformed/021.eml", "text"): PREAMBLE,
    ("malformed/021.eml", "html"): "as for malformed/020.eml",
    ("rfc/000.eml", "attachments"): (
        "RFC 2046's example has placeholder prose inside its base64 parts: stalwart keeps the "
        "prose as text, the stdlib decodes what base64 characters it finds"
    ),
    ("rfc/001.eml", "attachments"): (
        "message/external-body without a blank line after its headers: we regenerate the "
        "phantom message with one (one byte more), and strip the path from "
        "'/u/nsb/writing/rfcs/RFC-MIME.ps' as attachment names must"
    ),
    ("thirdparty/002.eml", "text"): (
        "garbage after base64 padding: the stdlib's lenient decoder reads on, stalwart stops, "
        "and leaves the undecodable last part as a raw attachment"
    ),
    ("thirdparty/002.eml", "attachments"): "as for the text check",
    ("thirdparty/005.eml", "text"): (
        "'invalid--1--' is not a delimiter: RFC 2046 §5.1.1 wants it at the start of a line; "
        "stalwart ends the part there, we keep the text"
    ),
    ("thirdparty/007.eml", "from"): (
        "'Moderator-Address <moderator>' has no domain: not an addr-spec (RFC 5322 §3.4.1), "
        "so the email is empty; stalwart keeps the local part"
    ),
    ("thirdparty/015.eml", "attachments"): (
        "three attached messages end with an unterminated multipart/alternative: stalwart "
        "lets the first swallow the rest; the outer boundary ends each (RFC 2046 §5.1.2)"
    ),
    # CPython's own answers (cpython-test_email, mailman-3.3.10 expected.json)
    ("cpython-test_email/msg_43.txt", "from"): (
        "'MAILER DAEMON <>' is the null return path, not an address: email stays empty"
    ),
    ("mailman-3.3.10/bad_email.eml", "from"): (
        "a quoted word without '@' is a name to us; CPython calls it the addr-spec"
    ),
    ("mailman-3.3.10/bad_email_2.eml", "text"): (
        "8-bit bytes under charset us-ascii: CPython decodes ASCII with U+FFFD per byte; "
        "they are valid UTF-8 (U+FFFD itself, EF BF BD) and we read them as one character"
    ),
    # Apache James mime4j (and Perl MIME-tools) decoded parts
    ("mimetools-testmsgs/frag.msg", "leaves"): (
        "a truncated base64 body (missing padding): the stdlib keeps the two bytes of the "
        "partial quantum, mime4j drops them"
    ),
    ("mimetools-testmsgs/multi-frag.msg", "leaves"): (
        "base64 followed by prose and a mangled terminator ('XXXXXX--boundary--'): the "
        "decoders differ on the trailing garbage"
    ),
    ("testmsgs/malformedHeaderStartsBody-nocrlfcrlf.msg", "leaves"): (
        "mime4j drops the header-looking line after the first body line; we keep all body text"
    ),
    ("testmsgs/very-long-boundary.msg", "leaves"): (
        "the boundary parameter ends in spaces, which RFC 2046 §5.1.1 forbids (bcharsnospace): "
        "CPython strips them, so the near-miss line becomes a delimiter"
    ),
    ("testmsgs/very-very-long-boundary.msg", "leaves"): "as for very-long-boundary.msg",
    ("testmsgs/weird-boundary.msg", "leaves"): "as for very-long-boundary.msg",
}

# Header-field vectors (stalwart header-vectors/*.json), keyed by (file, raw header).
VECTOR_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("unstructured", "[SUSPECTED SPAM]=?utf-8?B?VGhpcyBpcyB0aGUgb3JpZ2luYWwgc3ViamVjdA==?=\n"): (
        "stalwart adds a space before an encoded word glued to text; we keep the text as sent"
    ),
    ("unstructured", "[SUSPECTED SPAM]=?utf-8?B?VGhpcyBpcyB0aGUgb\n 3JpZ2luYWwgc3ViamVjdA==?=\n"): (
        "as above (the fold inside the encoded word is repaired)"
    ),
    (
        "unstructured",
        "[SUSPECTED SPAM]=?utf-8?B?VGhpcyBpcyB0aGUgb\r\n 3JpZ2luYWwgc3ViamVjdA==?=\r\n",
    ): "as above",
    ("unstructured", "Some text =?utf-8?Q??=here\n"): (
        "an empty encoded word: the stdlib drops it with the space before it"
    ),
    ("id", "<1234   @   local(blah)  .machine .example>\n"): (
        "white space inside the brackets (obs-id-left, RFC 5322 §4.5.4) is removed; stalwart "
        "keeps it verbatim"
    ),
    ("date", "20 11 (some \n 44 comments(more comments\n )) 79 05:34:27 -0300"): (
        "a numeric month is no RFC 5322 date; stalwart guesses"
    ),
    ("date", " 4 8 15 16 23 42, 4 8 15 16 23 42, 4 8 15 16 23 42, "): (
        "numbers are no date; stalwart reads 2015-08-04"
    ),
    (
        "date",
        "by 2002:aa7:cd10:0:b0:45c:2c83:1208 with SMTP id "
        "b16-20020aa7cd10000000b0045c2c831208mr4220805edw.81.1665423075119;\n\tMon, 10 Oct "
        "2022 10:31:15 -0700 (PDT)",
    ): "a Received header's date after ';' is not a Date header",
    ("date", "Thu, 10 Jul 1997 14:53:31 EST5EDT"): (
        "'EST5EDT' is a POSIX TZ string, not an RFC 5322 zone: read as unknown (UTC)"
    ),
}


@dataclass
class Report:
    """The checks one message failed, minus the listed exceptions."""

    case: str
    failures: dict[str, str] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: object = "") -> None:
        if not ok:
            self.failures[name] = str(detail)[:600]

    def unexpected(self) -> dict[str, str]:
        return {n: d for n, d in self.failures.items() if (self.case, n) not in EXCEPTIONS}


def squash(text: str | None) -> str:
    """Text without white space (parsers differ in how they join parts and lay out HTML)
    and without NUL (which we drop from text)."""
    return "".join((text or "").replace("\x00", "").split())


def spaced(text: str | None) -> str:
    """Runs of white space as one space: how folding is undone differs between parsers."""
    return " ".join((text or "").split())


def read_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _json(path: Path) -> Json:
    loaded: Json = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# --- stalwart mail-parser -----------------------------------------------------------------


def _stalwart_cases() -> list[Any]:
    return [
        pytest.param(f"{name}/{file}", id=f"{name}/{file}")
        for name in STALWART_SETS
        for file in sorted(_json(STALWART / name / "expected-summary.json"))
    ]


def _stalwart_text(summary: Json) -> str:
    parts = {part["index"]: part for part in summary["parts"]}
    texts = []
    for index in summary["text_body"]:
        part = parts[index]
        if part["body_kind"] == "Html":
            texts.append(html_to_text(part.get("text", "")))
        elif part["body_kind"] == "Text":
            texts.append(part.get("text", ""))
    return "".join(texts)


def _first_mailbox(addresses: list[Json] | None) -> tuple[str, str]:
    for entry in addresses or []:
        for mailbox in entry.get("addresses", [entry]):
            return mailbox.get("name") or "", mailbox.get("address") or ""
    return "", ""


def _stalwart_attachment(part: Json, ours: ParsedAttachment) -> tuple[str, str]:
    """(name, content digest) of a stalwart part, and the same read from ours."""
    kind = part["body_kind"]
    if kind in ("Binary", "InlineBinary"):
        expected, got = f"{part['size']}:{part['sha256']}", f"{ours.size}:{ours.sha256}"
    elif kind == "Message":
        inner = parse_message(ours.content)
        expected = squash(part["message"]["headers"].get("subject")) + "|"
        expected += squash(_stalwart_text(part["message"]))
        got = f"{squash(inner.subject)}|{squash(inner.text)}"
    else:
        expected, got = squash(part.get("text")), squash(read_text(ours.content))
    name = ours.filename if part.get("filename") else GENERATED_NAME.sub("*", ours.filename)
    return f"{part.get('filename') or '*'} {expected}", f"{name} {got}"


def _compare_stalwart(report: Report, summary: Json, parsed: ParsedMessage) -> None:
    headers = summary["headers"]
    report.check(
        "subject",
        spaced(headers.get("subject")) == parsed.subject,
        (headers.get("subject"), parsed.subject),
    )
    sender = _first_mailbox(headers.get("from"))
    report.check("from", sender == (parsed.sender.name, parsed.sender.email), parsed.sender)
    expected_text = _stalwart_text(summary)
    report.check("text", squash(expected_text) == squash(parsed.text), (expected_text, parsed.text))
    parts = {part["index"]: part for part in summary["parts"]}
    has_html = any(parts[i]["body_kind"] == "Html" for i in summary["html_body"])
    report.check("html", has_html == (parsed.html is not None), parsed.html)
    expected = [parts[i] for i in summary["attachments"]]
    pairs = [_stalwart_attachment(p, a) for p, a in zip(expected, parsed.attachments, strict=False)]
    report.check(
        "attachments",
        len(expected) == len(parsed.attachments) and all(e == g for e, g in pairs),
        pairs or [(p.get("filename"), p["content_type"]) for p in expected],
    )


def _stalwart_report(case: str) -> Report:
    name, file = case.split("/")
    summary = _json(STALWART / name / "expected-summary.json")[file]
    report = Report(case)
    _compare_stalwart(report, summary, parse_message((STALWART / case).read_bytes()))
    return report


@pytest.mark.parametrize("case", _stalwart_cases())
def test_stalwart_message(case: str) -> None:
    assert _stalwart_report(case).unexpected() == {}


# --- CPython's own email package (cpython-test_email, mailman-3.3.10) -----------------------


def _cpython_cases() -> list[Any]:
    return [
        pytest.param(f"{name}/{file}", id=f"{name}/{file}")
        for name in ("cpython-test_email", "mailman-3.3.10")
        for file in sorted(_json(CORPUS / name / "expected.json"))
    ]


def _leaves(node: Json) -> Iterator[Json]:
    """Leaves as the archive sees them: an attached message is one leaf."""
    if "children" in node and not node["content_type"].startswith("message/"):
        for child in node["children"]:
            yield from _leaves(child)
    else:
        yield node


def _compare_cpython(report: Report, expected: Json, parsed: ParsedMessage) -> None:
    headers = expected["headers"]
    report.check("subject", spaced(headers.get("subject")) == parsed.subject, parsed.subject)
    senders = headers.get("from") or [{"display_name": "", "addr_spec": ""}]
    sender = (senders[0]["display_name"], senders[0]["addr_spec"])
    report.check("from", sender == (parsed.sender.name, parsed.sender.email), parsed.sender)
    text, html = expected["text_body"], expected["html_body"]
    # get_body() picks one part; we join every inline text part, so theirs is within ours.
    wanted = text if text is not None else html_to_text(html or "")
    report.check("text", squash(wanted) in squash(parsed.text), (wanted, parsed.text))
    shown = html_to_text(sanitize_html(html)) if html is not None else None
    report.check(
        "html",
        (shown is None) == (parsed.html is None)
        and (shown is None or squash(shown) in squash(html_to_text(parsed.html or ""))),
        parsed.html,
    )
    missing = [leaf for leaf in _leaves(expected["structure"]) if not _found(leaf, parsed)]
    report.check("attachments", not missing, missing)


def _found(leaf: Json, parsed: ParsedMessage) -> bool:
    """A leaf is an attachment of ours (same name, type and bytes), or body text."""
    kind = leaf["content_type"]
    if kind.startswith("message/"):
        return any(a.content_type == kind for a in parsed.attachments)
    if leaf.get("filename"):
        wanted = (leaf["filename"], kind, leaf["decoded_size"], leaf["sha256"])
        return wanted in {
            (a.filename, a.content_type, a.size, a.sha256) for a in parsed.attachments
        }
    if kind in ("text/plain", "text/html") or kind.startswith("multipart/"):
        return True  # body text (a multipart without parts reads as text/plain): see "text"
    return leaf["sha256"] in {a.sha256 for a in parsed.attachments}


def _cpython_report(case: str) -> Report:
    name, file = case.split("/")
    expected = _json(CORPUS / name / "expected.json")[file]
    report = Report(case)
    parsed = parse_message((CORPUS / name / "messages" / file).read_bytes())
    _compare_cpython(report, expected, parsed)
    return report


@pytest.mark.parametrize("case", _cpython_cases())
def test_cpython_reference_message(case: str) -> None:
    assert _cpython_report(case).unexpected() == {}


# --- Apache James mime4j and Perl MIME-tools ----------------------------------------------


def _mime4j_cases() -> list[Any]:
    return [
        pytest.param(str(path.relative_to(MIME4J)), id=str(path.relative_to(MIME4J)))
        for path in sorted(MIME4J.glob("*/*.msg"))
    ]


def _mime4j_leaves(element: ET.Element) -> Iterator[tuple[str, str, list[str]]]:
    """(kind, decoded file, header fields) of every leaf, attached messages opened."""
    header = element.find("header")
    fields = [(f.text or "").strip() for f in header.findall("field")] if header else []
    for child in element:
        if child.tag in ("text-body", "binary-body"):
            yield child.tag, child.get("name", ""), fields
        elif child.tag == "multipart":
            for body_part in child.findall("body-part"):
                yield from _mime4j_leaves(body_part)
        elif child.tag == "message":
            yield from _mime4j_leaves(child)


def _charset(fields: list[str]) -> str:
    for text in fields:
        found = re.search(r'charset\s*=\s*"?([^";\s]+)', text, re.IGNORECASE)
        if text.lower().startswith("content-type") and found:
            return found.group(1)
    return "us-ascii"


def _everything(parsed: ParsedMessage, depth: int = 0) -> tuple[str, set[str]]:
    """All text we show and every attachment digest, attached messages parsed in turn."""
    texts, digests = [parsed.text, html_to_text(parsed.html or "")], set()
    for attachment in parsed.attachments:
        digests.add(attachment.sha256)
        if attachment.content_type.startswith("text/"):
            texts.append(read_text(attachment.content))
        if attachment.content_type.startswith("message/") and depth < 8:
            inner_text, inner_digests = _everything(parse_message(attachment.content), depth + 1)
            texts.append(inner_text)
            digests |= inner_digests
    return squash("".join(texts)), digests


def _leaf_seen(kind: str, data: bytes, fields: list[str], seen: tuple[str, set[str]]) -> bool:
    """A binary leaf is one of our attachments, byte for byte; a text leaf may also be text
    we show (as body, or inside an attachment)."""
    text, digests = seen
    if kind == "binary-body":
        return hashlib.sha256(data).hexdigest() in digests
    # Our line-based parts use "\n" whatever the transport did; mime4j keeps CRLF.
    if {hashlib.sha256(d).hexdigest() for d in (data, data.replace(b"\r\n", b"\n"))} & digests:
        return True
    try:
        words = data.decode(_charset(fields))
    except (LookupError, UnicodeDecodeError):
        words = read_text(data)
    if any("text/html" in f.lower() for f in fields):
        words = html_to_text(words)
    return squash(words) in text


def _mime4j_report(case: str) -> Report:
    path = MIME4J / case
    tree = ET.parse(path.with_name(f"{path.stem}_decoded.xml")).getroot()  # noqa: S314 - corpus
    seen = _everything(parse_message(path.read_bytes()))
    report = Report(case)
    missing = [
        name
        for kind, name, fields in _mime4j_leaves(tree)
        if not _leaf_seen(kind, (path.parent / name).read_bytes(), fields, seen)
    ]
    report.check("leaves", not missing, missing)
    return report


@pytest.mark.parametrize("case", _mime4j_cases())
def test_mime4j_message(case: str) -> None:
    assert _mime4j_report(case).unexpected() == {}


# --- header-field vectors (stalwart) ------------------------------------------------------
#
# address.json is not compared: stalwart folds comments into display names ("John (my dear
# friend)") and reads List-* URLs as mailboxes, where RFC 5322 §3.2.2 makes comments no part
# of a name; test_parse_properties checks header_addresses on literal headers instead.


def _vectors(name: str) -> list[Any]:
    vectors = json.loads((STALWART / "header-vectors" / f"{name}.json").read_text("utf-8"))
    return [
        pytest.param(v["header"], v["expected"], id=f"{name}-{i}") for i, v in enumerate(vectors)
    ]


def _with_header(name: str, value: str) -> Message:
    raw = f"{name}: {value.rstrip()}\n\n".encode("utf-8", "surrogateescape")
    return BytesParser(policy=policy.default).parsebytes(raw)


def _vector_matches(kind: str, header: str, expected: Any) -> tuple[bool, object]:
    got: object
    if kind == "unstructured":
        got = header_text(_with_header("Subject", header), "Subject")
        return got == expected, got
    if kind == "id":
        got = normalize_message_id(header)
        return got == (expected or [""])[0], got
    got = header_date(_with_header("Date", header))
    return got == _stalwart_date(expected), got


def _stalwart_date(fields: Json | None) -> datetime | None:
    if fields is None:
        return None
    offset = timedelta(hours=fields["tz_hour"], minutes=fields["tz_minute"])
    zone = timezone(-offset if fields["tz_before_gmt"] else offset)
    day = datetime(fields["year"], fields["month"], fields["day"], tzinfo=zone)
    clock = timedelta(hours=fields["hour"], minutes=fields["minute"], seconds=fields["second"])
    return (day + clock).astimezone(UTC)


@pytest.mark.parametrize("kind", ["unstructured", "id", "date"])
def test_header_vectors(kind: str) -> None:
    vectors = _json_list(STALWART / "header-vectors" / f"{kind}.json")
    mismatches = {}
    for vector in vectors:
        matches, got = _vector_matches(kind, vector["header"], vector["expected"])
        if not matches and (kind, vector["header"]) not in VECTOR_EXCEPTIONS:
            mismatches[vector["header"]] = (got, vector["expected"])
    assert len(vectors) >= 10
    assert mismatches == {}


def _json_list(path: Path) -> list[Json]:
    loaded: list[Json] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# --- the exception lists stay honest ---------------------------------------------------------


def _report(case: str) -> Report:
    if case.startswith(STALWART_SETS):
        return _stalwart_report(case)
    if case.startswith(("cpython-test_email/", "mailman-3.3.10/")):
        return _cpython_report(case)
    return _mime4j_report(case)


@pytest.mark.parametrize(
    ("case", "check"), [pytest.param(c, k, id=f"{c}::{k}") for c, k in sorted(EXCEPTIONS)]
)
def test_exception_is_still_needed(case: str, check: str) -> None:
    """A listed difference must still be there: a fix on either side removes it from the list."""
    assert check in _report(case).failures


@pytest.mark.parametrize(("kind", "header"), sorted(VECTOR_EXCEPTIONS))
def test_vector_exception_is_still_needed(kind: str, header: str) -> None:
    expected = next(
        v["expected"]
        for v in _json_list(STALWART / "header-vectors" / f"{kind}.json")
        if v["header"] == header
    )
    assert not _vector_matches(kind, header, expected)[0]


def test_the_corpus_is_all_here() -> None:
    assert (len(_stalwart_cases()), len(_cpython_cases()), len(_mime4j_cases())) == (107, 44, 80)
