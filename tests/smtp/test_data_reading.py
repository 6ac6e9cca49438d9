"""Message data read in pieces (smtp.data): the same bytes as a line-by-line reader, whatever
the data and however it arrives, the same limits, and the session goes on after a refusal."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from oak_maillist.models import InboundMessage
from oak_maillist.runtime import Runtime
from oak_maillist.smtp import replies
from oak_maillist.smtp.data import Data, read_data
from oak_maillist.smtp.server import bound_port, stop_servers
from tests.smtp.sockets import converse, serve

LINE_LIMIT = 1001  # aiosmtpd's, with the CRLF


def _by_lines(stream: bytes, *, size_limit: int, line_limit: int) -> tuple[Data, bytes]:
    """RFC 5321 read the plain way, one line at a time: (the outcome, what is left after)."""
    lines: list[bytes] = []
    position = size = 0
    while True:
        end = stream.index(b"\r\n", position) + 2
        line = stream[position:end]
        position = end
        if line == b".\r\n":
            break
        size += len(line)
        lines.append(line)
    rest = stream[position:]
    if size_limit and size + 3 > size_limit:
        return Data(refusal=replies.DATA_TOO_BIG), rest
    if any(len(line) > line_limit for line in lines):
        return Data(refusal=replies.LINE_TOO_LONG), rest
    return Data(content=b"".join(line[1:] if line[:1] == b"." else line for line in lines)), rest


async def _read_in_pieces(
    stream: bytes, cuts: list[int], *, size_limit: int = 0, line_limit: int = LINE_LIMIT
) -> tuple[Data, bytes]:
    """read_data on `stream` arriving cut at `cuts`, through a reader limited like aiosmtpd's."""
    reader = asyncio.StreamReader(limit=line_limit)
    edges = [0, *sorted({c for c in cuts if 0 < c < len(stream)}), len(stream)]

    async def feed() -> None:
        for start, end in itertools.pairwise(edges):
            reader.feed_data(stream[start:end])
            await asyncio.sleep(0)
        reader.feed_eof()

    feeding = asyncio.create_task(feed())
    data = await read_data(reader, size_limit=size_limit, line_limit=line_limit)
    await feeding
    return data, await reader.read()


# Lines made of the pieces that matter: dots at either end, CR and LF alone, long runs.
_LINE = st.lists(
    st.sampled_from([b".", b"..", b"a", b"\r", b"\n", b" ", b"x" * 300, "é".encode()]),
    max_size=8,
).map(b"".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(_LINE, max_size=30),
    after=st.sampled_from([b"", b"QUIT\r\n", b"MAIL FROM:<a@b>\r\n.\r\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=12_000), max_size=6),
    size_limit=st.sampled_from([0, 40, 2_000, 100_000]),
)
def test_pieces_read_what_lines_read(
    lines: list[bytes], after: bytes, cuts: list[int], size_limit: int
) -> None:
    stream = b"".join(line + b"\r\n" for line in lines if line != b".") + b".\r\n" + after
    expected = _by_lines(stream, size_limit=size_limit, line_limit=LINE_LIMIT)
    got = asyncio.run(_read_in_pieces(stream, cuts, size_limit=size_limit))
    assert got == expected  # and what follows the end of data is left to be read


@pytest.mark.parametrize(
    ("stream", "content"),
    [
        (b".\r\n", b""),  # an empty message
        (b"..\r\n.\r\n", b".\r\n"),  # a line of one dot, stuffed
        (b"a\r\n\r\n.\r\n", b"a\r\n\r\n"),  # an empty last line
        (b"end.\r\n..x.\r\n.\r\n", b"end.\r\n.x.\r\n"),  # lines ending in a dot
        (b"a.\r\n.\r\n", b"a.\r\n"),
        (b"a\n.\r\nb\r\n.\r\n", b"a\n.\r\nb\r\n"),  # a dot after a bare LF ends nothing
    ],
)
async def test_where_data_ends_and_dots_are_unstuffed(stream: bytes, content: bytes) -> None:
    for cut in range(len(stream) + 1):
        assert await _read_in_pieces(stream, [cut]) == (Data(content=content), b"")


async def test_limits_count_the_bytes_as_sent() -> None:
    body = b"x" * 98 + b"\r\n"  # 100 bytes a line
    stream = body * 10 + b".\r\n"
    assert (await _read_in_pieces(stream, [], size_limit=1003))[0] == Data(content=body * 10)
    assert (await _read_in_pieces(stream, [], size_limit=1002))[0].refusal == replies.DATA_TOO_BIG
    long_line = b"y" * 999 + b"\r\n"  # 1,001 with its CRLF: the longest allowed
    assert (await _read_in_pieces(long_line + b".\r\n", []))[0] == Data(content=long_line)
    too_long = b"y" + long_line + b".\r\n"
    assert (await _read_in_pieces(too_long, []))[0].refusal == replies.LINE_TOO_LONG


@pytest.mark.usefixtures("dev_list")
async def test_a_refused_message_leaves_the_session_usable(runtime: Runtime) -> None:
    servers = await serve(runtime, max_message_size=20_000)
    port = bound_port(servers[0])
    envelope = b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<dev@lists.example.org>\r\nDATA\r\n"
    kept = b"Subject: kept\r\n\r\n..a stuffed line\r\nline.\r\n"

    steps = [(b"EHLO client.example.com\r\n", 1)]
    for data in (b"x" * 998 + b"\r\n") * 30, b"z" * 2_000 + b"\r\n":
        steps += [(envelope, 3), (data + b".\r\n", 1)]
    steps += [(envelope, 3), (kept + b".\r\nQUIT\r\n", 2)]
    try:
        transcript = await asyncio.to_thread(converse, port, *steps)
    finally:
        await stop_servers(servers)
    accepted = ["250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", replies.START_DATA]
    assert transcript[2:] == [
        *accepted,
        "552 5.3.4 Message exceeds the fixed maximum message size",
        *accepted,
        "500 5.5.2 Line too long (see RFC 5321 4.5.3.1.6)",
        *accepted,
        "250 2.0.0 Message accepted for delivery",
        "221 Bye",
    ]
    async with runtime.sessionmaker() as session:
        stored = (await session.scalars(select(InboundMessage))).all()
    assert [row.raw for row in stored] == [b"Subject: kept\r\n\r\n.a stuffed line\r\nline.\r\n"]


@pytest.mark.usefixtures("dev_list")
async def test_lmtp_refuses_oversize_data_once_per_recipient(runtime: Runtime) -> None:
    servers = await serve(
        runtime, lmtp_enabled=True, lmtp_host="127.0.0.1", lmtp_port=0, max_message_size=4_000
    )
    port = bound_port(servers[1])

    envelope = (
        b"LHLO mta.example.com\r\nMAIL FROM:<alice@example.com>\r\n"
        b"RCPT TO:<dev@lists.example.org>\r\nRCPT TO:<dev-owner@lists.example.org>\r\nDATA\r\n"
    )
    try:
        transcript = await asyncio.to_thread(
            converse, port, (envelope, 5), ((b"z" * 98 + b"\r\n") * 50 + b".\r\n", 2)
        )
    finally:
        await stop_servers(servers)
    assert transcript[-3:] == [replies.START_DATA, *[replies.DATA_TOO_BIG] * 2]
