"""The shortcuts of mail.reading and mail.headers read exactly what `policy.default` reads."""

from __future__ import annotations

import os
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oak_maillist.mail.headers import header_addresses, header_date
from oak_maillist.mail.parse import parse_message
from oak_maillist.mail.reading import READING, header_memo, read_message

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus"))
MESSAGES = sorted(
    p for p in CORPUS.rglob("*") if p.suffix in (".eml", ".msg") or p.parent.name == "messages"
)
STDLIB = BytesParser(policy=policy.default)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tree(msg: Message) -> list[tuple[object, ...]]:
    """Everything the parser decided, part by part in walk order."""
    return [
        (
            part.get_unixfrom(),
            list(part.raw_items()),
            part.get_default_type(),
            [(type(d).__name__, str(d)) for d in part.defects],
            # The stored payload itself: get_payload() decodes it, and may raise doing so.
            None if part.is_multipart() else part._payload,  # type: ignore[attr-defined]
            part.preamble,
            part.epilogue,
        )
        for part in msg.walk()
    ]


def _same_reading(raw: bytes) -> None:
    assert _tree(read_message(raw)) == _tree(STDLIB.parsebytes(raw))
    assert parse_message(raw) == parse_message(raw, reader=STDLIB.parsebytes)


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_message_reads_as_policy_default_reads_it(path: Path) -> None:
    _same_reading(path.read_bytes())


def test_the_corpus_is_there() -> None:
    assert len(MESSAGES) >= 790


def test_short_common_headers_are_parsed_once_across_messages() -> None:
    first = READING.header_factory("Content-Type", "text/plain; charset=utf-8")
    again = READING.header_factory("Content-Type", "text/plain; charset=utf-8")
    other = READING.header_factory("content-type", "text/plain; charset=utf-8")
    assert again is first
    assert other is not first
    assert other.name == "content-type"
    assert first.name == "Content-Type"
    assert first.params["charset"] == "utf-8"


def test_longer_headers_are_parsed_once_per_message_only() -> None:
    value = 'multipart/alternative; boundary="------------89rdZlF87ukwoHkrsSI299lb"'
    with header_memo():
        first = READING.header_factory("Content-Type", value)
        assert READING.header_factory("Content-Type", value) is first
    with header_memo():
        again = READING.header_factory("Content-Type", value)
    assert again is not first
    assert again == first
    assert READING.header_factory("Content-Type", value) is not again
    assert again.params["boundary"] == "------------89rdZlF87ukwoHkrsSI299lb"


_LINE_ENDS = st.sampled_from(["\r\n", "\n", "\r", ""])
_HEADER_LINES = st.sampled_from(
    [
        "Subject: hello",
        "From: Ann <ann@example.org>",
        "From sender@example.org Mon Jan  1 00:00:00 2024",
        " folded continuation",
        "\tfolded with a tab",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: multipart/mixed; boundary=b",
        "Content-Type: message/rfc822",
        "Content-Transfer-Encoding: base64",
        "no colon here",
        ": empty name",
        "X-Empty:",
        "Bad Name: value",
        "--b",
        "",
        "\x00",
        "é: non-ascii name",
    ]
)


@st.composite
def header_blocks(draw: st.DrawFn) -> bytes:
    """Header-like lines with every kind of line break, a separator or none, then a body."""
    lines = draw(st.lists(st.tuples(_HEADER_LINES, _LINE_ENDS), max_size=12))
    body = draw(st.sampled_from(["", "body\r\n", "\r\nbody", "--b\r\ntext\r\n--b--\r\n", "\xff"]))
    text = "".join(line + end for line, end in lines) + body
    return text.encode("utf-8", "surrogateescape")


@FUZZ
@given(header_blocks())
def test_header_blocks_read_as_policy_default_reads_them(raw: bytes) -> None:
    _same_reading(raw)


_WORDS = st.sampled_from(
    ["Ann", "Lee", "O'Neil", "x+y", "J.", '"Lee, Ann"', '" spaced  out "', '""', '"a\\"b"',
     "=?utf-8?q?J=C3=BCrgen?=", "é", "(comment)", "Ann:", "a=b"]
)  # fmt: skip
_SPACES = st.sampled_from(["", " ", "  ", "\t", "\r\n "])
_ADDR_SPECS = st.sampled_from(
    ["ann@example.org", "a.b@c.d", "A_B-c@x", "x@[1.2.3.4]", "a..b@c", "ann@", "@example.org",
     "ann", '"a b"@c.d', "é@example.org", "a@b.", "a(c)@b"]
)  # fmt: skip
_SEPARATORS = st.sampled_from([",", ", ", " ,\t", ",,", ";", " "])


@st.composite
def address_lists(draw: st.DrawFn) -> str:
    """Mostly well-formed mailbox lists, some a little off in one place."""
    members = []
    for _ in range(draw(st.integers(1, 3))):
        words = draw(st.lists(st.tuples(_WORDS, _SPACES), max_size=3))
        phrase = "".join(word + space for word, space in words)
        spec = draw(_ADDR_SPECS)
        form = draw(st.sampled_from(["{p}<{a}>", "{s}{a}{s}", "{s}{p}{s}<{a}>{s}", "{p}{a}"]))
        space = draw(_SPACES)
        members.append(form.format(p=phrase, a=spec, s=space))
    return draw(_SEPARATORS).join(members) + draw(st.sampled_from(["", "", ",", " "]))


@FUZZ
@given(st.lists(address_lists(), min_size=1, max_size=2))
def test_address_lists_read_as_the_rfc_5322_parser_reads_them(values: list[str]) -> None:
    raw = "".join(f"To: {value}\r\n" for value in values).encode("utf-8") + b"\r\n"
    ours: list[str] = []
    theirs: list[str] = []
    fast = header_addresses(read_message(raw), "To", ours)
    assert fast == header_addresses(STDLIB.parsebytes(raw), "To", theirs)
    assert ours == theirs


_DATE_PIECES = st.sampled_from(
    ["Tue, ", "1 Jul 2003", " 10:52:37", " +0200", " -0000", " GMT", " (CEST)", "\r\n ",
     "99", " Foo", ":", "31 Feb 2024", " 24:00:00", " +9999", "9999999999", ""]
)  # fmt: skip


@FUZZ
@given(st.lists(_DATE_PIECES, max_size=8).map("".join))
def test_dates_read_as_the_registry_reads_them(value: str) -> None:
    raw = f"Date: {value}\r\n\r\n".encode()
    ours: list[str] = []
    theirs: list[str] = []
    assert header_date(read_message(raw), "Date", ours) == header_date(
        STDLIB.parsebytes(raw), "Date", theirs
    )
    assert ours == theirs
