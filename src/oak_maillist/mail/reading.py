"""Raw bytes read into a message as `policy.default` reads them, for less work.

Two costs of the stdlib are avoided, neither of which changes what is read:

- `HeaderRegistry.__getitem__` builds a new header class on every lookup, and a header is
  parsed again each time it is fetched (the feed parser alone reads a part's Content-Type
  four or five times). Header objects are immutable strings with immutable attributes, so
  one parse of a (name, value) can answer every later fetch: inside `header_memo()` for the
  rest of the block, and across messages for a few short, common values ("text/plain;
  charset=utf-8", "8bit"). A parsed header keeps its parse tree, some 10-80 KB even for a
  short value, so only those few are kept for longer.
- The feed parser walks the body line by line even where it only joins the lines again: a
  message that is not multipart/* or message/* takes the rest of the input as its payload.
  Such a message has its header block parsed alone and its body attached whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from functools import lru_cache
from typing import Any

__all__ = ["READING", "clear_header_cache", "header_memo", "read_message"]

# Values kept across messages: short ones, few of them (at most a few MB all told).
_SHARED_MAX_CHARS = 64
_SHARED_ENTRIES = 128
# Values kept for one message; longer ones are rare and parsed where fetched.
_MEMO_MAX_CHARS = 16_384
_MEMO: ContextVar[dict[tuple[str, str], BaseHeader] | None] = ContextVar(
    "oak_header_memo", default=None
)
# email.feedparser's own tests: a header or continuation line (`headerRE`), and a line break
# as its line splitter (`StringIO(newline="")`) sees one.
_HEADER_LINE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
# Types whose body the feed parser reads as parts or as another message.
_STRUCTURED = ("multipart", "message")


class _MemoisedRegistry(HeaderRegistry):
    """A HeaderRegistry that builds each header class once and reuses parsed headers."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._shared = lru_cache(maxsize=_SHARED_ENTRIES)(self._parse)

    def map_to_type(self, name: str, cls: Any) -> None:
        super().map_to_type(name, cls)
        self.clear()

    def clear(self) -> None:
        self._classes.clear()
        self._shared.cache_clear()

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name: str, value: str) -> BaseHeader:
        if type(value) is not str or len(value) > _MEMO_MAX_CHARS:
            return self._parse(name, value)
        if len(value) <= _SHARED_MAX_CHARS:
            shared: BaseHeader = self._shared(name, value)
            return shared
        memo = _MEMO.get()
        if memo is None:
            return self._parse(name, value)
        header = memo.get((name, value))
        if header is None:
            header = memo[name, value] = self._parse(name, value)
        return header

    def _parse(self, name: str, value: str) -> BaseHeader:
        return self[name](name, value)


# RFC 5322/6532 as policy.default reads them; only the header factory differs.
READING = policy.default.clone(header_factory=_MemoisedRegistry())


@contextmanager
def header_memo() -> Iterator[None]:
    """Inside the block, headers of READING messages are parsed once per (name, value)."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def read_message(raw: bytes) -> Message:
    """`BytesParser(policy=READING).parsebytes(raw)`, without a line-by-line walk of a body
    that is not multipart/* or message/*."""
    parser = BytesParser(policy=READING)
    bounds = _header_bounds(raw)
    if bounds is not None:
        head_end, body_start = bounds
        msg = parser.parsebytes(raw[:head_end], headersonly=True)
        if msg.get_content_maintype() not in _STRUCTURED:
            # What the feed parser does with such a body: every line joined as it came.
            msg.set_payload(raw[body_start:].decode("ascii", "surrogateescape"))
            return msg
    return parser.parsebytes(raw)


def clear_header_cache() -> None:
    """Forget the headers kept across messages (benchmarks measure a cold start with it)."""
    factory = READING.header_factory
    if isinstance(factory, _MemoisedRegistry):
        factory.clear()


def _header_bounds(raw: bytes) -> tuple[int, int] | None:
    """Where the header block ends and the body starts, as the feed parser finds them: at the
    first line that is neither a header nor a continuation. None where the parser would put
    part of the block into the body: a first line that is not empty after all (noted as a
    missing separator), or a last header line that looks like a Unix "From " line."""
    position, size, last = 0, len(raw), -1
    while position < size:
        if not _HEADER_LINE.match(raw, position):
            if raw[position] not in b"\r\n":
                return None
            line_break = _LINE_BREAK.match(raw, position)
            if line_break is None or _ends_with_unix_from(raw, last):
                return None
            return position, line_break.end()
        last = position
        line_break = _LINE_BREAK.search(raw, position)
        if line_break is None:
            break
        position = line_break.end()
    return None if _ends_with_unix_from(raw, last) else (size, size)


def _ends_with_unix_from(raw: bytes, last: int) -> bool:
    """True when the block's last line, not its first, starts with "From " (the feed parser
    takes it for the first line of the body)."""
    return last > 0 and raw.startswith(b"From ", last)
