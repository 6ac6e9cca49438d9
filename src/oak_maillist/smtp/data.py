"""Reading a message after DATA in large pieces instead of line by line.

aiosmtpd reads message data one line at a time (an await, a join and several checks per
line: about 1.9 ms of CPU for a 100 KB post of 1,300 lines here, against 0.47 ms for a whole
5 KB SMTP transaction). Here the reader waits for the next ".<CRLF>" instead: the data ends
at the first one that stands on a line of its own (RFC 5321 §4.1.1.4), and lines ending in a
dot (the only other places it stops) are rare. The result is the same as aiosmtpd's: the
bytes between the 354 and the lone dot, with the first dot of each line removed (RFC 5321
§4.5.2), and the same limits on size and line length, answered with enhanced status codes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from oak_maillist.smtp import replies

_STOP = b".\r\n"  # where a read may end: the data ends at one that begins a line
_END = b"\r\n.\r\n"  # the end of data after at least one line
_STUFFED = b"\r\n."


@dataclass(frozen=True)
class Data:
    """What came after DATA: the message, or the reply refusing it (the data was read to its
    end either way, so the session goes on)."""

    content: bytes = b""
    refusal: str | None = None


async def read_data(reader: asyncio.StreamReader, *, size_limit: int, line_limit: int) -> Data:
    """Read up to the line holding a lone dot; `size_limit` (0: none) counts the bytes as
    sent, `line_limit` each line with its CRLF (as aiosmtpd counts both)."""
    pieces: list[bytes] = []
    size = 0
    tail = b""  # the last bytes read, to see an end that spans two reads
    too_big = False
    while True:
        try:
            piece = await reader.readuntil(_STOP)
        except asyncio.LimitOverrunError as error:
            # No stop within the reader's limit (a line's length): take what was checked.
            piece = await reader.readexactly(error.consumed)
        size += len(piece)
        if too_big or (size_limit and size > size_limit):
            too_big = True
            pieces.clear()  # keep reading to the end, but keep nothing
        else:
            pieces.append(piece)
        tail = (tail + piece[-len(_END) :])[-len(_END) :]
        if piece.endswith(_STOP) and (tail == _END or size == len(_STOP)):
            break
    if too_big:
        return Data(refusal=replies.DATA_TOO_BIG)
    raw = b"".join(pieces)[: -len(_STOP)]
    if raw and max(map(len, raw.split(b"\r\n"))) + 2 > line_limit:
        return Data(refusal=replies.LINE_TOO_LONG)
    if raw.startswith(b"."):
        raw = raw[1:]
    return Data(content=raw.replace(_STUFFED, b"\r\n"))
