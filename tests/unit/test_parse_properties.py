"""parse_message on literal messages, and on bytes nobody would send: it never raises."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oak_maillist.mail.headers import (
    Address,
    header_addresses,
    header_date,
    header_text,
    mime_headers,
    normalize_message_id,
)
from oak_maillist.mail.parse import ParsedMessage, parse_message

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "mime"
CORPUS_FILES = sorted(
    p for p in CORPUS.rglob("*") if p.suffix in (".eml", ".msg") or p.parent.name == "messages"
)


def _message(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


MIXED = _message(
    """From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.org>
To: dev@lists.example.org, "Ann" <ann@example.org>
Cc: bob@example.org
Reply-To: dev@lists.example.org
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and
 a folded line
Date: Tue, 1 Jul 2003 10:52:37 +0200
Message-ID: <abc.123@example.org> (comment)
In-Reply-To: <parent@example.org>
References: <root@example.org>
 <parent@example.org>
List-Id: Dev list <dev.lists.example.org>
Auto-Submitted: no
Precedence: list
X-Loop: dev@lists.example.org
X-Loop: other@example.org
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble is not shown
--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Hallo J=FCrgen,
--alt
Content-Type: text/html; charset=utf-8

<p onclick="steal()">Hallo <b>J\u00fcrgen</b><script>alert(1)</script></p>
--alt--
--outer
Content-Type: image/png
Content-ID: <logo@example.org>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--outer
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''..%2F..%2Fetc%2Fr%C3%A9sum%C3%A9.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: text/plain

Second text part, read after the first.
--outer
Content-Type: message/rfc822

Subject: the forwarded one
From: carol@example.org

Forwarded body.
--outer--
"""
)


def test_headers_are_decoded_unfolded_and_normalised() -> None:
    parsed = parse_message(MIXED)
    assert parsed.subject == "Grüße and a folded line"
    assert parsed.sender == Address("Jürgen", "juergen@example.org")
    assert parsed.to == [Address("", "dev@lists.example.org"), Address("Ann", "ann@example.org")]
    assert parsed.cc == [Address("", "bob@example.org")]
    assert parsed.reply_to == [Address("", "dev@lists.example.org")]
    assert parsed.date == datetime(2003, 7, 1, 8, 52, 37, tzinfo=UTC)
    assert parsed.message_id == "abc.123@example.org"
    assert parsed.in_reply_to == "<parent@example.org>"
    assert parsed.references == "<root@example.org> <parent@example.org>"
    assert parsed.list_id == "Dev list <dev.lists.example.org>"
    assert (parsed.auto_submitted, parsed.precedence) == ("no", "list")
    assert parsed.x_loop == ["dev@lists.example.org", "other@example.org"]
    assert parsed.size == len(MIXED)


def test_text_joins_plain_parts_in_reading_order_and_html_is_sanitised() -> None:
    parsed = parse_message(MIXED)
    assert parsed.text == "Hallo Jürgen,\n\nSecond text part, read after the first."
    assert parsed.html is not None
    assert "Hallo <b>Jürgen</b>" in parsed.html
    assert "script" not in parsed.html
    assert "onclick" not in parsed.html
    assert "preamble" not in parsed.text


def test_every_other_leaf_is_an_attachment() -> None:
    parsed = parse_message(MIXED)
    found = [
        (a.filename, a.content_type, a.content_id, a.is_inline, a.part_index)
        for a in parsed.attachments
    ]
    assert found == [
        ("attachment-1.png", "image/png", "logo@example.org", True, 4),
        ("résumé.pdf", "application/pdf", "", False, 5),
        ("forwarded-message.eml", "message/rfc822", "", False, 7),
    ]
    logo, pdf, forwarded = parsed.attachments
    assert logo.content == b"\x89PNG\r\n\x1a\n"
    assert (pdf.size, pdf.sha256) == (9, hashlib.sha256(b"%PDF-1.4\n").hexdigest())
    inner = parse_message(forwarded.content)
    assert (inner.subject, inner.sender.email, inner.text) == (
        "the forwarded one",
        "carol@example.org",
        "Forwarded body.",
    )


def test_part_index_is_the_position_in_walk_order() -> None:
    parsed = parse_message(MIXED)
    parts = list(BytesParser(policy=policy.default).parsebytes(MIXED).walk())
    for attachment in parsed.attachments:
        assert parts[attachment.part_index].get_content_type() == attachment.content_type


def test_html_only_mail_gets_a_text_version() -> None:
    raw = _message(
        "Subject: html\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><head><title>T</title><style>p{}</style></head>"
        "<body><p>First</p><ul><li>one</li><li>two</li></ul></body></html>\n"
    )
    parsed = parse_message(raw)
    assert parsed.text.split() == ["First", "*", "one", "*", "two"]
    assert parsed.html == "<p>First</p><ul><li>one</li><li>two</li></ul>\n"


def test_alternative_without_html_has_no_html_body() -> None:
    raw = _message(
        "Content-Type: multipart/alternative; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nonly text\n--b--\n"
    )
    parsed = parse_message(raw)
    assert (parsed.text, parsed.html, parsed.attachments) == ("only text", None, [])


def test_alternative_with_only_html_reads_the_html_as_text() -> None:
    raw = _message(
        "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
        "Content-Type: multipart/alternative; boundary=b\n\n"
        "--b\nContent-Type: text/html\n\n<p>only <i>html</i></p>\n--b--\n"
        "--m\nContent-Type: text/plain\n\nfooter\n--m--\n"
    )
    parsed = parse_message(raw)
    assert parsed.text == "only html\n\nfooter"
    assert parsed.html == "<p>only <i>html</i></p>\n<pre>footer</pre>"


def test_charsets_unknown_or_wrong_fall_back_and_say_so() -> None:
    unknown = parse_message(_message("Content-Type: text/plain; charset=x-nope\n\n") + b"caf\xe9")
    assert unknown.text == "café"
    assert "unknown charset 'x-nope' in part 0" in unknown.defects
    wrong = parse_message(b"Content-Type: text/plain; charset=utf-8\n\ncaf\xe9 ok")
    assert wrong.text == "caf\ufffd ok"
    assert "text of part 0 is not valid utf-8" in wrong.defects
    unlabelled = parse_message(b"Subject: x\n\ncaf\xc3\xa9")
    assert unlabelled.text == "café"


def test_file_names_lose_paths_and_unsafe_characters() -> None:
    raw = _message(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhi\n'
        '--b\nContent-Type: application/octet-stream; name="=?utf-8?q?C:\\\\x\\\\=C3=A9.bin?="\n'
        "Content-Disposition: attachment\n\nA\n"
        "--b\nContent-Type: application/x-thing\n"
        'Content-Disposition: attachment; filename=".."\n\nB\n'
        "--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment;"
        ' filename="invoice\u202efdp.exe"\n\nC\n--b--\n'
    )
    names = [a.filename for a in parse_message(raw).attachments]
    assert names == ["é.bin", "attachment-2.bin", "invoicefdp.exe"]


def test_attachment_line_breaks_do_not_depend_on_the_transport() -> None:
    body = "Content-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nx\ny\n"
    crlf = parse_message(body.replace("\n", "\r\n").encode())
    lf = parse_message(body.encode())
    assert crlf.attachments[0].content == lf.attachments[0].content == b"x\ny\n"


def test_text_is_capped() -> None:
    parsed = parse_message(b"Subject: long\n\n" + b"a" * 500, max_text_chars=100)
    assert parsed.text == "a" * 100
    assert "text cut at 100 characters" in parsed.defects


def test_uuencoded_text_is_a_defect_not_an_attachment() -> None:
    raw = b"Subject: uu\n\nsee file\nbegin 644 a.txt\n#86)C\n`\nend\n"
    parsed = parse_message(raw)
    assert parsed.attachments == []
    assert "begin 644 a.txt" in parsed.text
    assert "uuencoded data left in the text of part 0" in parsed.defects


def test_nul_and_lone_surrogates_never_reach_the_text() -> None:
    raw = b"Subject: a=?utf-8?q?=00?=b\nContent-Type: text/plain; charset=utf-7\n\nx\x00+2D3-y"
    parsed = parse_message(raw)
    assert "\x00" not in parsed.subject + parsed.text
    assert parsed.text.encode("utf-8")


def test_missing_headers_give_empty_values() -> None:
    parsed = parse_message(b"\nbody only\n")
    assert (parsed.message_id, parsed.subject, parsed.sender, parsed.date) == (
        "",
        "",
        Address("", ""),
        None,
    )
    assert (parsed.to, parsed.x_loop, parsed.text) == ([], [], "body only\n")


# --- headers.py -------------------------------------------------------------------------------


def test_a_header_that_breaks_the_stdlib_parser_is_read_leniently() -> None:
    # CPython 3.11's address parser raises IndexError on a lone quote.
    raw = b'To: Ann <ann@example.org>, "\nFrom: x <a@b.c>\n\n'
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    defects: list[str] = []
    assert header_addresses(msg, "To", defects) == [Address("Ann", "ann@example.org")]
    assert defects == ["To: unreadable address list (IndexError)"]
    assert header_addresses(msg, "From") == [Address("x", "a@b.c")]


def test_undecodable_raw_header_bytes_read_as_utf8() -> None:
    msg = BytesParser(policy=policy.default).parsebytes(b"Subject: caf\xc3\xa9 \xff\n\n")
    assert header_text(msg, "Subject") == "café \ufffd"


def test_dates_come_back_in_utc() -> None:
    def date(value: str) -> datetime | None:
        raw = f"Date: {value}\n\n".encode()
        return header_date(BytesParser(policy=policy.default).parsebytes(raw))

    assert date("Tue, 1 Jul 2003 10:52:37 -0000") == datetime(2003, 7, 1, 10, 52, 37, tzinfo=UTC)
    assert date("1 Jul 2003 (comment) 10:52:37 +0200") == datetime(
        2003, 7, 1, 8, 52, 37, tzinfo=UTC
    )
    assert date("whenever") is None
    assert date("Fri, 31 Dec 9999 23:59:59 -1200") is None


def test_message_ids_are_normalised() -> None:
    assert normalize_message_id(" <a@b> ") == "a@b"
    assert normalize_message_id("(comment) <a@b> <c@d>") == "a@b"
    assert normalize_message_id("bare@id") == "bare@id"
    assert normalize_message_id("<>") == ""
    assert normalize_message_id("") == ""


def test_mime_headers_too_long_for_the_registry_are_read_leniently() -> None:
    params = "; ".join(f'p{i}="v"' for i in range(3000))
    raw = f"Content-Type: text/html; charset=UTF-8; {params}\n\n".encode()
    defects: list[str] = []
    mime = mime_headers(BytesParser(policy=policy.default).parsebytes(raw), defects)
    assert (mime.content_type, mime.charset) == ("text/html", "utf-8")
    assert defects == ["MIME headers longer than 16384 characters, cut"]


# --- properties: nothing makes parse_message raise ------------------------------------------


def _sound(parsed: ParsedMessage, raw: bytes, max_chars: int) -> None:
    """What every caller relies on, whatever the input."""
    assert parsed.size == len(raw)
    texts = [parsed.subject, parsed.text, parsed.message_id, parsed.in_reply_to, *parsed.defects]
    texts += [parsed.html or "", parsed.sender.name, *(a.filename for a in parsed.attachments)]
    for text in texts:
        text.encode("utf-8")  # no lone surrogates
    assert "\x00" not in parsed.text + parsed.subject
    assert len(parsed.text) <= max_chars
    assert parsed.date is None or parsed.date.utcoffset() is not None
    for attachment in parsed.attachments:
        name = attachment.filename
        assert name
        assert "/" not in name
        assert "\\" not in name
        assert len(name) <= 255
        assert attachment.size == len(attachment.content)
    if parsed.html is not None:
        assert "<script" not in parsed.html.lower()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    _sound(parse_message(raw), raw, 2_000_000)


_PIECES = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"\r",
        b"--",
        b"\r\n\r\n",
        b": ",
        b"=?utf-8?q?",
        b"=?x-unknown?b?",
        b"?=",
        b'"',
        b"<",
        b">",
        b"(",
        b"\\",
        b"\x00",
        b"\xff",
        b"\xc3",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Content-Disposition: attachment; filename*=utf-8''%2E%2E%2F\r\n",
        b"charset=utf-7",
        b"--b\r\n",
        b"--b--\r\n",
        b"begin 644 x\r\n",
        b"<script>alert(1)</script>",
    ]
)


@st.composite
def mutated_corpus_messages(draw: st.DrawFn) -> bytes:
    """A corpus message truncated, with bytes replaced, and MIME debris spliced in."""
    raw = draw(st.sampled_from(CORPUS_FILES)).read_bytes()[:20_000]
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["insert", "delete", "cut", "flip"]))
        if action == "insert":
            raw = raw[:at] + draw(_PIECES) + raw[at:]
        elif action == "delete":
            raw = raw[:at] + raw[at + draw(st.integers(1, 200)) :]
        elif action == "cut":
            raw = raw[:at]
        elif at < len(raw):
            raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    return raw


@FUZZ
@given(mutated_corpus_messages(), st.integers(1, 5000))
def test_mutated_corpus_messages_never_raise(raw: bytes, max_chars: int) -> None:
    _sound(parse_message(raw, max_text_chars=max_chars), raw, max_chars)


@FUZZ
@given(st.lists(_PIECES | st.binary(max_size=20), max_size=60))
def test_mime_debris_never_raises(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    _sound(parse_message(raw), raw, 2_000_000)


def test_the_fuzzed_corpus_is_there() -> None:
    assert len(CORPUS_FILES) == 231


# parse_message reads with shortcuts (mail.reading, simple addresses and dates); on broken
# input too they must read what a plain policy.default parse reads.
_PLAIN = BytesParser(policy=policy.default).parsebytes


@FUZZ
@given(mutated_corpus_messages())
def test_mutated_corpus_messages_read_as_policy_default_reads_them(raw: bytes) -> None:
    assert parse_message(raw) == parse_message(raw, reader=_PLAIN)


@FUZZ
@given(st.lists(_PIECES | st.binary(max_size=20), max_size=60))
def test_mime_debris_reads_as_policy_default_reads_it(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    assert parse_message(raw) == parse_message(raw, reader=_PLAIN)
